import { createServer, type Server } from 'node:http';
import { FakeClock, isMeziteError } from '@mezite/identity';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { OidcIdTokenVerifier } from './id-token-verifier';

/** A tiny OpenID Provider on 127.0.0.1:0: discovery and a JWKS we control. */
class TestIssuer {
  jwks: { keys: JWK[] } = { keys: [] };
  discoveryIssuer?: string;
  requests = 0;
  private constructor(
    readonly server: Server,
    readonly issuer: string,
  ) {}

  static async start(): Promise<TestIssuer> {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const t = new TestIssuer(server, `http://127.0.0.1:${(server.address() as { port: number }).port}`);
    server.on('request', (req, res) => {
      t.requests++;
      const send = (doc: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
      if (req.url === '/.well-known/openid-configuration') send({ issuer: t.discoveryIssuer ?? t.issuer, jwks_uri: `${t.issuer}/jwks` });
      else if (req.url === '/jwks') send(t.jwks);
      else res.writeHead(404).end();
    });
    return t;
  }

  async addKey(kid: string): Promise<CryptoKey> {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    this.jwks.keys.push({ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' });
    return privateKey;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

const NOW = new Date('2026-03-01T12:00:00Z');
const nowSec = NOW.getTime() / 1000;

describe('OidcIdTokenVerifier', () => {
  let idp: TestIssuer;
  let key: CryptoKey;
  let clock: FakeClock;
  let verifier: OidcIdTokenVerifier;

  /** A token as the provider would sign it, with `over` replacing or (undefined) removing claims. */
  const token = async (over: Record<string, unknown> = {}, o: { key?: CryptoKey; kid?: string; alg?: string } = {}) => {
    const claims: Record<string, unknown> = { iss: idp.issuer, aud: 'mezctl', sub: 'user-1', nonce: 'n-123', iat: nowSec - 5, exp: nowSec + 600, email: 'ada@example.com', email_verified: true, acr: 'urn:acr:pwd', amr: ['pwd', 'otp'], ...over };
    for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k];
    return new SignJWT(claims as JWTPayload).setProtectedHeader({ alg: o.alg ?? 'RS256', kid: o.kid ?? 'k1' }).sign(o.key ?? key);
  };

  const refusal = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isMeziteError(err)).toBe(true);
    return err as { code: string; message: string; cause?: Error };
  };

  beforeAll(async () => {
    idp = await TestIssuer.start();
    key = await idp.addKey('k1');
  });
  afterAll(() => idp.close());
  beforeEach(() => {
    clock = new FakeClock(NOW);
    verifier = new OidcIdTokenVerifier({ issuer: idp.issuer, clientId: 'mezctl', clock, jwksCooldownMs: 0 });
  });

  test('a good token gives subject, email, acr and amr', async () => {
    expect(await verifier.verify(await token(), 'n-123')).toEqual({ issuer: idp.issuer, subject: 'user-1', email: 'ada@example.com', emailVerified: true, acr: 'urn:acr:pwd', amr: ['pwd', 'otp'] });
  });

  test('without amr the list is empty; without acr there is none; unverified email says so', async () => {
    const v = await verifier.verify(await token({ amr: undefined, acr: undefined, email_verified: undefined }), 'n-123');
    expect(v.amr).toEqual([]);
    expect(v.acr).toBeUndefined();
    expect(v.emailVerified).toBe(false);
  });

  test('60 s of clock skew are tolerated on exp and iat', async () => {
    await expect(verifier.verify(await token({ exp: nowSec - 50 }), 'n-123')).resolves.toBeDefined();
    await expect(verifier.verify(await token({ iat: nowSec + 50 }), 'n-123')).resolves.toBeDefined();
  });

  const other = () => generateKeyPair('RS256').then((k) => k.privateKey);
  const bad: Array<[string, () => Promise<string>, string]> = [
    ['wrong issuer', () => token({ iss: 'https://evil.example' }), 'n-123'],
    ['wrong audience', () => token({ aud: 'someone-else' }), 'n-123'],
    ['several audiences without azp', () => token({ aud: ['mezctl', 'other'] }), 'n-123'],
    ['azp of another client', () => token({ azp: 'other' }), 'n-123'],
    ['wrong nonce', () => token(), 'n-999'],
    ['no nonce in the token', () => token({ nonce: undefined }), 'n-123'],
    ['expired beyond the skew', () => token({ exp: nowSec - 61 }), 'n-123'],
    ['issued in the future beyond the skew', () => token({ iat: nowSec + 120 }), 'n-123'],
    ['issued too long ago', () => token({ iat: nowSec - 3600 }), 'n-123'],
    ['no iat', () => token({ iat: undefined }), 'n-123'],
    ['no sub', () => token({ sub: undefined }), 'n-123'],
    ['amr not a list', () => token({ amr: 'pwd' }), 'n-123'],
    ['signed by another key under our kid', async () => token({}, { key: await other() }), 'n-123'],
    ['signature bytes changed', async () => (await token()).replace(/.{4}$/, 'AAAA'), 'n-123'],
    ['unsigned (alg none)', async () => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: idp.issuer, aud: 'mezctl', sub: 'x', nonce: 'n-123', iat: nowSec, exp: nowSec + 60 })).toString('base64url')}.`, 'n-123'],
    ['HMAC-signed', async () => new SignJWT({ iss: idp.issuer, aud: 'mezctl', sub: 'x', nonce: 'n-123', iat: nowSec, exp: nowSec + 60 }).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(new Uint8Array(32)), 'n-123'],
    ['not a JWT', async () => 'not-a-jwt', 'n-123'],
    ['empty', async () => '', 'n-123'],
  ];
  test.each(bad)('refused with the one error: %s', async (_name, make, nonce) => {
    const err = await refusal(verifier.verify(await make(), nonce));
    expect({ code: err.code, message: err.message }).toEqual({ code: 'Unauthenticated', message: 'invalid ID token' });
    expect(err.cause?.message).toBeTruthy();
  });

  test('an empty nonce in the request is an invalid argument, before any check', async () => {
    expect((await refusal(verifier.verify(await token(), ''))).code).toBe('InvalidArgument');
  });

  test('a rotated key (new kid) is fetched and accepted', async () => {
    await verifier.verify(await token(), 'n-123');
    const k2 = await idp.addKey('k2');
    await expect(verifier.verify(await token({}, { key: k2, kid: 'k2' }), 'n-123')).resolves.toMatchObject({ subject: 'user-1' });
  });

  test('an unreachable provider is Unavailable, and discovery is retried on the next call', async () => {
    const down = new OidcIdTokenVerifier({ issuer: 'http://127.0.0.1:1', clientId: 'mezctl', clock, fetchTimeoutMs: 1000 });
    expect((await refusal(down.verify(await token(), 'n-123'))).code).toBe('Unavailable');
    idp.discoveryIssuer = 'https://someone-else.example';
    try {
      expect((await refusal(verifier.verify(await token(), 'n-123'))).code).toBe('Unavailable');
    } finally {
      delete idp.discoveryIssuer;
    }
    await expect(verifier.verify(await token(), 'n-123')).resolves.toBeDefined();
  });
});
