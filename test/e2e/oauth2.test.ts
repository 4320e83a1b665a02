import { readFileSync } from 'node:fs';
import * as oauth from 'oauth4webapi';
import { runBin } from '../harness/cli';
import { whoamiWithToken } from '../harness/machine-cli';
import { TestStack } from '../harness/test-stack';

/**
 * The auth-server's OAuth2 endpoints (RFC 6749 §4.4 token, RFC 7009 revocation,
 * RFC 7662 introspection, RFC 8414 metadata) driven by a standard client library,
 * oauth4webapi, with raw requests only for the mistakes a library never makes.
 */
const CLIENT_ID = 'svc-deployer';
const CLIENT_SECRET = 'svc-deployer-demo-secret';
const TOKEN = /^psk_live_[0-9A-Za-z]{28}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// The stack's HTTP port is plain http on 127.0.0.1; oauth4webapi refuses http unless told.
const insecure = { [oauth.allowInsecureRequests]: true } as const;

describe('OAuth2 endpoints through oauth4webapi', () => {
  let stack: TestStack;
  let as: oauth.AuthorizationServer;
  let adminSession: string;
  const client: oauth.Client = { client_id: CLIENT_ID };

  /** Client "authentication" for introspection: the admin's session as a bearer. */
  const bearer =
    (secret: string): oauth.ClientAuth =>
    (_as, _client, _body, headers) => {
      headers.set('authorization', `Bearer ${secret}`);
    };

  const issue = async (auth: oauth.ClientAuth, c: oauth.Client = client): Promise<oauth.TokenEndpointResponse> =>
    oauth.processClientCredentialsResponse(as, c, await oauth.clientCredentialsGrantRequest(as, c, auth, new URLSearchParams(), insecure));

  const introspect = async (token: string): Promise<oauth.IntrospectionResponse> =>
    oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, bearer(adminSession), token, insecure));

  /** A raw form POST to the stack, for requests a compliant client never sends. */
  const post = async (path: string, body: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${stack.httpUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  };
  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

  beforeAll(async () => {
    stack = await TestStack.start();
    adminSession = (JSON.parse(readFileSync(stack.adminIdentityFile, 'utf8')) as { token: string }).token;
    const issuer = new URL(stack.httpUrl);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
  }, 120_000);
  afterAll(async () => stack?.destroy());

  test('RFC 8414 metadata: the issuer is the HTTP URL and names every endpoint under it', () => {
    expect(as.issuer).toBe(stack.httpUrl);
    expect(as.token_endpoint).toBe(`${stack.httpUrl}/oauth2/token`);
    expect(as.revocation_endpoint).toBe(`${stack.httpUrl}/oauth2/revoke`);
    expect(as.introspection_endpoint).toBe(`${stack.httpUrl}/oauth2/introspect`);
    expect(as.grant_types_supported).toEqual(['client_credentials']);
    expect(as.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['client_secret_basic', 'client_secret_post']));
  });

  test('client_credentials with client_secret_basic issues a psk_live_ bearer that whoami shows as the service', async () => {
    const t = await issue(oauth.ClientSecretBasic(CLIENT_SECRET));
    expect(t.access_token).toMatch(TOKEN);
    expect(t.token_type).toBe('bearer'); // oauth4webapi lower-cases it
    expect(t.expires_in).toBeGreaterThan(0);
    expect(t.expires_in).toBeLessThanOrEqual(24 * 3600);
    const r = await whoamiWithToken(stack.httpUrl, t.access_token);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.who).toEqual({ principal: 'service', subject: expect.stringMatching(UUID), domain: expect.stringMatching(UUID), acr: '', amr: [] });
  });

  test('client_credentials with client_secret_post issues another token for the same service', async () => {
    const a = await issue(oauth.ClientSecretBasic(CLIENT_SECRET));
    const b = await issue(oauth.ClientSecretPost(CLIENT_SECRET));
    expect(b.access_token).toMatch(TOKEN);
    expect(b.access_token).not.toBe(a.access_token);
    const [wa, wb] = await Promise.all([whoamiWithToken(stack.httpUrl, a.access_token), whoamiWithToken(stack.httpUrl, b.access_token)]);
    expect(wb.who).toEqual(wa.who);
    expect(wb.who?.principal).toBe('service');
  });

  test('the token response is not cacheable (RFC 6749 §5.1)', async () => {
    const res = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(CLIENT_SECRET), new URLSearchParams(), insecure);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('pragma')).toBe('no-cache');
    await res.body?.cancel();
  });

  test('introspection with the admin session: active, the service as subject, its tenant and the token id', async () => {
    const t = await issue(oauth.ClientSecretBasic(CLIENT_SECRET));
    const who = (await whoamiWithToken(stack.httpUrl, t.access_token)).who;
    const info = await introspect(t.access_token);
    expect(info).toEqual({
      active: true,
      token_type: 'Bearer',
      sub: `service:${who?.subject}`,
      tenant: who?.domain,
      iat: expect.any(Number),
      exp: expect.any(Number),
      jti: expect.stringMatching(UUID),
      env: 'live',
    });
    expect(info.exp).toBeGreaterThan(info.iat as number);
    expect(await introspect('psk_live_not-a-token')).toEqual({ active: false });
  });

  test('revocation (RFC 7009): the token turns inactive and the gRPC API refuses it', async () => {
    const t = await issue(oauth.ClientSecretBasic(CLIENT_SECRET));
    expect((await whoamiWithToken(stack.httpUrl, t.access_token)).code).toBe(0);
    await expect(oauth.processRevocationResponse(await oauth.revocationRequest(as, client, oauth.ClientSecretBasic(CLIENT_SECRET), t.access_token, insecure))).resolves.toBeUndefined();

    const raw = await post('/oauth2/introspect', new URLSearchParams({ token: t.access_token }).toString(), { authorization: `Bearer ${adminSession}` });
    expect(raw.status).toBe(200);
    expect(raw.body).toEqual({ active: false });

    const r = await whoamiWithToken(stack.httpUrl, t.access_token);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^plexctl: Unauthenticated: .+\n$/);
    expect(r.code).toBe(1);

    // Revoking it again, or revoking something that never was a token, is still 200.
    await expect(oauth.processRevocationResponse(await oauth.revocationRequest(as, client, oauth.ClientSecretPost(CLIENT_SECRET), t.access_token, insecure))).resolves.toBeUndefined();
    await expect(oauth.processRevocationResponse(await oauth.revocationRequest(as, client, oauth.ClientSecretBasic(CLIENT_SECRET), 'no-such-token', insecure))).resolves.toBeUndefined();
  });

  test("a client can revoke only its own service's tokens: another service's request is answered 200 and changes nothing", async () => {
    const added = await runBin('plexctl', ['service-identities', 'add', '--name', 'oauth2-other', '--output', 'json'], { env: stack.cliEnv });
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    const other = JSON.parse(added.stdout) as { client_id: string; client_secret: string };
    const otherClient: oauth.Client = { client_id: other.client_id };

    const victim = await issue(oauth.ClientSecretBasic(CLIENT_SECRET));
    const res = await oauth.revocationRequest(as, otherClient, oauth.ClientSecretBasic(other.client_secret), victim.access_token, insecure);
    expect(res.status).toBe(200);
    await res.body?.cancel();
    expect((await introspect(victim.access_token)).active).toBe(true);
    expect((await whoamiWithToken(stack.httpUrl, victim.access_token)).code).toBe(0);

    // Its own token it can revoke.
    const own = await issue(oauth.ClientSecretPost(other.client_secret), otherClient);
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, otherClient, oauth.ClientSecretPost(other.client_secret), own.access_token, insecure));
    expect((await introspect(own.access_token)).active).toBe(false);
  });

  test('removing a service identity revokes its tokens at once and its client secret: nothing it held works any more', async () => {
    const added = await runBin('plexctl', ['service-identities', 'add', '--name', 'oauth2-gone', '--output', 'json'], { env: stack.cliEnv });
    expect(added.code).toBe(0);
    const gone = JSON.parse(added.stdout) as { client_id: string; client_secret: string };
    const goneClient: oauth.Client = { client_id: gone.client_id };
    const held = [await issue(oauth.ClientSecretBasic(gone.client_secret), goneClient), await issue(oauth.ClientSecretPost(gone.client_secret), goneClient)];
    for (const t of held) expect((await whoamiWithToken(stack.httpUrl, t.access_token)).code).toBe(0);
    const bystander = await issue(oauth.ClientSecretBasic(CLIENT_SECRET));

    const rm = await runBin('plexctl', ['service-identities', 'rm', 'oauth2-gone'], { env: stack.cliEnv });
    expect(rm).toMatchObject({ code: 0, stderr: '' });

    for (const t of held) {
      expect((await introspect(t.access_token)).active).toBe(false);
      expect((await whoamiWithToken(stack.httpUrl, t.access_token)).code).toBe(1);
    }
    const again = await post('/oauth2/token', 'grant_type=client_credentials', { authorization: basic(gone.client_id, gone.client_secret) });
    expect(again.status).toBe(401);
    expect(again.body.error).toBe('invalid_client');
    // Another service's token is untouched.
    expect((await whoamiWithToken(stack.httpUrl, bystander.access_token)).code).toBe(0);
  });

  describe('errors a library never provokes (raw requests)', () => {
    const grant = 'grant_type=client_credentials';

    test('a wrong secret is 401 invalid_client with a Basic challenge', async () => {
      const r = await post('/oauth2/token', grant, { authorization: basic(CLIENT_ID, 'wrong-secret') });
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ error: 'invalid_client', error_description: expect.any(String) });
      expect(r.headers.get('www-authenticate')).toMatch(/^Basic realm="[^"]+"$/);
      expect(r.headers.get('cache-control')).toBe('no-store');
    });

    test('an unknown client gets exactly what a wrong secret gets', async () => {
      const wrong = await post('/oauth2/token', grant, { authorization: basic(CLIENT_ID, 'wrong-secret') });
      const unknown = await post('/oauth2/token', grant, { authorization: basic('no-such-client', 'wrong-secret') });
      expect(unknown.status).toBe(wrong.status);
      expect(unknown.body).toEqual(wrong.body);
      expect(unknown.headers.get('www-authenticate')).toBe(wrong.headers.get('www-authenticate'));
    });

    test('grant_type=password is 400 unsupported_grant_type', async () => {
      const r = await post('/oauth2/token', 'grant_type=password&username=u&password=p', { authorization: basic(CLIENT_ID, CLIENT_SECRET) });
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('unsupported_grant_type');
    });

    test('a missing grant_type is 400 invalid_request', async () => {
      const r = await post('/oauth2/token', '', { authorization: basic(CLIENT_ID, CLIENT_SECRET) });
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('invalid_request');
    });

    test('client_secret_basic and client_secret_post at once is 400 invalid_request', async () => {
      const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: CLIENT_SECRET }).toString();
      const r = await post('/oauth2/token', body, { authorization: basic(CLIENT_ID, CLIENT_SECRET) });
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('invalid_request');
    });

    test('a JSON body is 400 invalid_request', async () => {
      const r = await post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: CLIENT_SECRET }), { 'content-type': 'application/json' });
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('invalid_request');
    });

    test('a repeated parameter is 400 invalid_request', async () => {
      const r = await post('/oauth2/token', `${grant}&${grant}`, { authorization: basic(CLIENT_ID, CLIENT_SECRET) });
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('invalid_request');
    });

    test('GET on the token endpoint is 405', async () => {
      const res = await fetch(`${stack.httpUrl}/oauth2/token`, { signal: AbortSignal.timeout(10_000) });
      expect(res.status).toBe(405);
      await res.body?.cancel();
    });

    test('revocation needs client authentication: a wrong secret is 401 invalid_client', async () => {
      const r = await post('/oauth2/revoke', 'token=whatever', { authorization: basic(CLIENT_ID, 'wrong-secret') });
      expect(r.status).toBe(401);
      expect(r.body.error).toBe('invalid_client');
      expect(r.headers.get('www-authenticate')).toMatch(/^Basic /);
    });

    test('introspection without a bearer, with a machine token or with a made-up one is 401', async () => {
      const t = await issue(oauth.ClientSecretBasic(CLIENT_SECRET));
      const body = new URLSearchParams({ token: t.access_token }).toString();
      for (const headers of [{}, { authorization: `Bearer ${t.access_token}` }, { authorization: 'Bearer not-a-session' }, { authorization: basic(CLIENT_ID, CLIENT_SECRET) }]) {
        const r = await post('/oauth2/introspect', body, headers);
        expect(r.status).toBe(401);
        expect(r.body.error).toBe('invalid_token');
        expect(r.headers.get('www-authenticate')).toMatch(/^Bearer /);
      }
    });
  });

  // Runs last: once the limiter trips, 127.0.0.1 is locked out of client authentication
  // for a minute.
  describe('brute-force limits on every endpoint that checks a secret', () => {
    test('failed client authentications at the revocation endpoint trip the same limiter as the token endpoint', async () => {
      const replies = [];
      for (let i = 0; i < 12; i++) replies.push(await post('/oauth2/revoke', 'token=x', { authorization: basic(CLIENT_ID, `guess-${i}`) }));
      expect(replies[0]?.status).toBe(401);
      expect(replies.at(-1)?.status).toBe(429);
      expect(replies.at(-1)?.body.error).toBe('slow_down');
      // This (client, source) pair and this source are now locked out of the token endpoint too, even with the right secret
      // (another source with the right secret is not: domain/identity-token-manager.test.ts).
      const locked = await post('/oauth2/token', 'grant_type=client_credentials', { authorization: basic(CLIENT_ID, CLIENT_SECRET) });
      expect(locked.status).toBe(429);
      expect(locked.body.error).toBe('slow_down');
    });

    test('the introspection endpoint limits bad bearer credentials per source, as the gRPC API does', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) statuses.push((await post('/oauth2/introspect', 'token=x', { authorization: `Bearer guess-${i}` })).status);
      expect(statuses).toContain(429);
    });
  });
});
