import { createServer, type Server } from 'node:http';
import { FakeClock, isMeziteError, oidcNonceFor } from '@mezite/identity';
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
/** The login's secret (the CLI keeps it) and the nonce the ID token carries. */
const SECRET = 'login-secret-0123456789abcdefghijklmnopqrstuvwxyz';
const NONCE = oidcNonceFor(SECRET);
const nowSec = NOW.getTime() / 1000;

describe('OidcIdTokenVerifier', () => {
  let idp: TestIssuer;
  let key: CryptoKey;
  let clock: FakeClock;
  let verifier: OidcIdTokenVerifier;

  /** A token as the provider would sign it, with `over` replacing or (undefined) removing claims. */
  const token = async (over: Record<string, unknown> = {}, o: { key?: CryptoKey; kid?: string; alg?: string } = {}) => {
    const claims: Record<string, unknown> = { iss: idp.issuer, aud: 'mezctl', sub: 'user-1', nonce: NONCE, iat: nowSec - 5, exp: nowSec + 600, email: 'ada@example.com', email_verified: true, acr: 'urn:acr:pwd', amr: ['pwd', 'otp'], ...over };
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
    expect(await verifier.verify(await token(), SECRET)).toEqual({ issuer: idp.issuer, subject: 'user-1', email: 'ada@example.com', emailVerified: true, acr: 'urn:acr:pwd', amr: ['pwd', 'otp'] });
  });

  test('without amr the list is empty; without acr there is none; unverified email says so', async () => {
    const v = await verifier.verify(await token({ amr: undefined, acr: undefined, email_verified: undefined }), SECRET);
    expect(v.amr).toEqual([]);
    expect(v.acr).toBeUndefined();
    expect(v.emailVerified).toBe(false);
  });

  test('60 s of clock skew are tolerated on exp and iat', async () => {
    await expect(verifier.verify(await token({ exp: nowSec - 50 }), SECRET)).resolves.toBeDefined();
    await expect(verifier.verify(await token({ iat: nowSec + 50 }), SECRET)).resolves.toBeDefined();
  });

  const other = () => generateKeyPair('RS256').then((k) => k.privateKey);
  const bad: Array<[string, () => Promise<string>, string]> = [
    ['wrong issuer', () => token({ iss: 'https://evil.example' }), SECRET],
    ['wrong audience', () => token({ aud: 'someone-else' }), SECRET],
    ['several audiences without azp', () => token({ aud: ['mezctl', 'other'] }), SECRET],
    ['azp of another client', () => token({ azp: 'other' }), SECRET],
    ['wrong nonce', () => token(), 'another-login-secret-0123456789abcdefghijklmn'],
    ['no nonce in the token', () => token({ nonce: undefined }), SECRET],
    ['expired beyond the skew', () => token({ exp: nowSec - 61 }), SECRET],
    ['issued in the future beyond the skew', () => token({ iat: nowSec + 120 }), SECRET],
    ['issued too long ago', () => token({ iat: nowSec - 3600 }), SECRET],
    ['no iat', () => token({ iat: undefined }), SECRET],
    ['no sub', () => token({ sub: undefined }), SECRET],
    ['amr not a list', () => token({ amr: 'pwd' }), SECRET],
    ['signed by another key under our kid', async () => token({}, { key: await other() }), SECRET],
    ['signature bytes changed', async () => (await token()).replace(/.{4}$/, 'AAAA'), SECRET],
    ['unsigned (alg none)', async () => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: idp.issuer, aud: 'mezctl', sub: 'x', nonce: NONCE, iat: nowSec, exp: nowSec + 60 })).toString('base64url')}.`, SECRET],
    ['HMAC-signed', async () => new SignJWT({ iss: idp.issuer, aud: 'mezctl', sub: 'x', nonce: NONCE, iat: nowSec, exp: nowSec + 60 }).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(new Uint8Array(32)), SECRET],
    ['not a JWT', async () => 'not-a-jwt', SECRET],
    ['empty', async () => '', SECRET],
  ];
  test.each(bad)('refused with the one error: %s', async (_name, make, nonce) => {
    const err = await refusal(verifier.verify(await make(), nonce));
    expect({ code: err.code, message: err.message }).toEqual({ code: 'Unauthenticated', message: 'invalid ID token' });
    expect(err.cause?.message).toBeTruthy();
  });

  test('an empty nonce in the request is an invalid argument, before any check', async () => {
    expect((await refusal(verifier.verify(await token(), ''))).code).toBe('InvalidArgument');
  });

  test('a stolen ID token starts no session: the nonce it carries (readable by anyone) is not the secret', async () => {
    const stolen = await token();
    // The thief pads the readable nonce into the secret's length range: still refused.
    for (const guess of [NONCE, `${NONCE}=`, NONCE.padEnd(43, 'A')]) {
      expect(await refusal(verifier.verify(stolen, guess))).toMatchObject({ code: 'Unauthenticated', message: 'invalid ID token', cause: { message: 'nonce mismatch' } });
    }
    await expect(verifier.verify(stolen, SECRET)).resolves.toMatchObject({ subject: 'user-1' });
  });

  test('a nonce secret shorter than 43 or longer than 256 characters (an old mezctl sending the nonce itself) is an invalid argument', async () => {
    for (const s of ['n', 'x'.repeat(42), 'x'.repeat(257)]) {
      expect(await refusal(verifier.verify(await token(), s))).toMatchObject({ code: 'InvalidArgument', message: expect.stringContaining('upgrade mezctl') });
    }
  });

  test('a rotated key (new kid) is fetched and accepted', async () => {
    await verifier.verify(await token(), SECRET);
    const k2 = await idp.addKey('k2');
    await expect(verifier.verify(await token({}, { key: k2, kid: 'k2' }), SECRET)).resolves.toMatchObject({ subject: 'user-1' });
  });

  test('an unreachable provider is Unavailable, and discovery is retried on the next call', async () => {
    const down = new OidcIdTokenVerifier({ issuer: 'http://127.0.0.1:1', clientId: 'mezctl', clock, fetchTimeoutMs: 1000 });
    expect((await refusal(down.verify(await token(), SECRET))).code).toBe('Unavailable');
    idp.discoveryIssuer = 'https://someone-else.example';
    try {
      expect((await refusal(verifier.verify(await token(), SECRET))).code).toBe('Unavailable');
    } finally {
      delete idp.discoveryIssuer;
    }
    await expect(verifier.verify(await token(), SECRET)).resolves.toBeDefined();
  });
});
