import { meziteMetrics, nullLogger } from '@mezite/platform';
import type { ApiTokenClient } from '../domain/api-token-client';
import type { IdentityTokenManager } from '../domain/identity-token-manager';
import type { ServiceIdentityStore } from '../domain/service-identity';
import { MemoryAuditLog } from '../store/memory-audit-log';
import { startHttpServer, type HttpServerOptions } from './http-server';
import type { OAuth2Deps } from './oauth2';
import { InFlightLimit } from './in-flight-limit';
import { TrustedProxies } from './trusted-proxies';

/** A server with OAuth2 endpoints on 127.0.0.1:0 whose dependencies fail unless a test gives them. */
function startOAuth2Server(oauth2: Partial<OAuth2Deps>, options: Partial<HttpServerOptions> = {}) {
  return startHttpServer({
    addr: '127.0.0.1:0',
    log: nullLogger,
    healthy: () => true,
    discovery: () => ({ auth_server: '', ca_cert: '', ca_pin: '' }),
    ...options,
    oauth2: {
      tokens: {} as IdentityTokenManager,
      apiTokens: {} as ApiTokenClient,
      services: {} as ServiceIdentityStore,
      log: nullLogger,
      issuer: () => '',
      canIntrospect: async () => ({ actor: 'user:u', tenantId: 't', allowed: false }),
      verifyClient: async () => undefined,
      newRequestId: () => 'r',
      audit: new MemoryAuditLog(),
      refusals: { refused: async () => undefined, rateLimited: async () => undefined },
      ...oauth2,
    },
  });
}

/**
 * Load shedding of the OAuth2 endpoints on a real HTTP server on 127.0.0.1:0: with a
 * cap of 1, a token request that is still being handled makes the next OAuth2 request
 * a 503 with Retry-After, while health and discovery keep answering.
 */
describe('OAuth2 endpoints: load shedding', () => {
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  let base: string;
  let unblock: () => void = () => undefined;
  let entered: () => void = () => undefined;

  beforeAll(async () => {
    const tokens = {
      // Holds its slot until the test lets it go.
      issueService: async () => {
        entered();
        await new Promise<void>((r) => (unblock = r));
        return { plaintext: 'psk_live_x', token: { expiresAt: new Date(Date.now() + 3600_000) } };
      },
    };
    server = await startHttpServer({
      addr: '127.0.0.1:0',
      log: nullLogger,
      healthy: () => true,
      discovery: () => ({ auth_server: 'localhost:3025', ca_cert: '', ca_pin: '' }),
      loadShedding: { maxInFlight: 1, retryAfterMs: 1500 },
      oauth2: {
        tokens: tokens as unknown as IdentityTokenManager,
        apiTokens: {} as ApiTokenClient,
        services: {} as ServiceIdentityStore,
        log: nullLogger,
        issuer: () => base,
        canIntrospect: async () => ({ actor: 'user:u', tenantId: 't', allowed: false }),
        verifyClient: async () => undefined,
        newRequestId: () => 'r',
        audit: new MemoryAuditLog(),
        refusals: { refused: async () => undefined, rateLimited: async () => undefined },
      },
    });
    base = `http://127.0.0.1:${server.port}`;
  });
  afterAll(async () => {
    unblock();
    await server?.close();
  });

  const grant = () =>
    fetch(`${base}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'c', client_secret: 's' }).toString(),
      signal: AbortSignal.timeout(10_000),
    });
  const shedCount = async () => (await meziteMetrics.refusals.get()).values.filter((v) => v.labels.reason === 'resource_exhausted' && String(v.labels.method).startsWith('POST /oauth2/')).reduce((n, v) => n + v.value, 0);

  test('over the cap: 503, Retry-After in seconds, temporarily_unavailable, counted; health and discovery still answer; the slot comes back', async () => {
    const before = await shedCount();
    const inside = new Promise<void>((r) => (entered = r));
    const first = grant();
    await inside;
    expect(server.limit.inFlight).toBe(1);

    for (const res of [await grant(), await fetch(`${base}/oauth2/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=x' })]) {
      expect({ status: res.status, retryAfter: res.headers.get('retry-after'), type: res.headers.get('content-type'), cache: res.headers.get('cache-control'), body: await res.json() }).toEqual({
        status: 503,
        retryAfter: '2',
        type: 'application/json',
        cache: 'no-store',
        body: { error: 'temporarily_unavailable', error_description: 'the server is busy; retry in 2s' },
      });
    }
    expect(await shedCount()).toBe(before + 2);
    expect(server.limit.shed).toBe(2);

    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/.well-known/mezite`)).status).toBe(200);
    expect((await fetch(`${base}/.well-known/oauth-authorization-server`)).status).toBe(200);

    unblock();
    expect((await first).status).toBe(200);
    expect(server.limit.inFlight).toBe(0);
    // The slot is free again: the next grant is handled (and holds it until released).
    const again = new Promise<void>((r) => (entered = r));
    const next = grant();
    await again;
    unblock();
    expect((await next).status).toBe(200);
  });

  test('a body over 16 KiB is read first, and still 413 after the bearer check (the source is kept)', async () => {
    const seen: Array<string | undefined> = [];
    const other = await startOAuth2Server(
      {
        canIntrospect: async (_bearer, source) => {
          seen.push(source);
          return { actor: 'user:u', tenantId: 't', allowed: true };
        },
      },
      { loadShedding: { maxInFlight: 1, retryAfterMs: 1000 } },
    );
    try {
      const res = await fetch(`http://127.0.0.1:${other.port}/oauth2/introspect`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Bearer x' }, body: Buffer.alloc(64 * 1024, 0x61), signal: AbortSignal.timeout(10_000) });
      expect({ status: res.status, body: await res.json() }).toEqual({ status: 413, body: { error: 'invalid_request', error_description: 'request body too large' } });
      expect(seen).toEqual(['127.0.0.1']);
      expect(other.limit.inFlight).toBe(0);
    } finally {
      await other.close();
    }
  });

  test('every OAuth2 answer names its request id, the one the handlers audit under (and a crash names it too)', async () => {
    let n = 0;
    const audited: string[] = [];
    const other = await startOAuth2Server({
      tokens: {
        issueService: async (i: { requestId: string; clientId: string }) => {
          audited.push(i.requestId);
          if (i.clientId === 'crash') throw new Error('a bug');
          return { plaintext: 'psk_live_x', token: { expiresAt: new Date(Date.now() + 3600_000) } };
        },
      } as unknown as IdentityTokenManager,
      newRequestId: () => `req-${++n}`,
    });
    try {
      const post = (path: string, body: string) => fetch(`http://127.0.0.1:${other.port}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body, signal: AbortSignal.timeout(10_000) });
      const ok = await post('/oauth2/token', 'grant_type=client_credentials&client_id=c&client_secret=s');
      expect({ status: ok.status, id: ok.headers.get('x-request-id') }).toEqual({ status: 200, id: 'req-1' });
      const refused = await post('/oauth2/introspect', 'token=x');
      expect({ status: refused.status, id: refused.headers.get('x-request-id') }).toEqual({ status: 401, id: 'req-2' });
      const crashed = await post('/oauth2/token', 'grant_type=client_credentials&client_id=crash&client_secret=s');
      expect({ status: crashed.status, id: crashed.headers.get('x-request-id'), body: await crashed.json() }).toMatchObject({ status: 500, id: 'req-3', body: { error: 'server_error', error_description: 'internal error (request id req-3)' } });
      expect(audited).toEqual(['req-1', 'req-3']);
      // Health and discovery are not requests anyone audits.
      expect((await fetch(`http://127.0.0.1:${other.port}/healthz`)).headers.get('x-request-id')).toBeNull();
    } finally {
      await other.close();
    }
  });

  test('behind a trusted proxy the client is the address the proxy appended to X-Forwarded-For; otherwise the peer', async () => {
    for (const [trusted, expected] of [[['127.0.0.1'], '203.0.113.9'], [['10.0.0.0/8'], '127.0.0.1'], [[], '127.0.0.1']] as const) {
      const seen: Array<string | undefined> = [];
      const other = await startOAuth2Server(
        {
          canIntrospect: async (_bearer, source) => {
            seen.push(source);
            return { actor: 'user:u', tenantId: 't', allowed: false };
          },
        },
        { trustedProxies: new TrustedProxies(trusted) },
      );
      try {
        // The client claims 1.1.1.1 itself; the (trusted) proxy appended what it saw.
        const res = await fetch(`http://127.0.0.1:${other.port}/oauth2/introspect`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Bearer x', 'x-forwarded-for': '1.1.1.1, 203.0.113.9' }, body: 'token=x', signal: AbortSignal.timeout(10_000) });
        expect(res.status).toBe(401);
        expect(seen).toEqual([expected]);
      } finally {
        await other.close();
      }
    }
  });

  test('a slot is given back once, however often release is called', async () => {
    const limit = new InFlightLimit({ maxInFlight: 1, retryAfterMs: 0 });
    const release = limit.acquire();
    expect(limit.acquire()).toBeUndefined();
    release?.();
    release?.(); // twice is once
    expect(limit.inFlight).toBe(0);
    expect(limit.acquire()).toBeDefined();
    expect(limit.shedReply().headers).toEqual({ 'retry-after': '1' });
  });

  test('0 turns shedding off', () => {
    const limit = new InFlightLimit({ maxInFlight: 0, retryAfterMs: 1000 });
    for (let i = 0; i < 1000; i++) expect(limit.acquire()).toBeDefined();
    expect(limit.shed).toBe(0);
  });
});
