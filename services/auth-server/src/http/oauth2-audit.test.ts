import { FakeClock, unauthenticated } from '@mezite/identity';
import { nullLogger } from '@mezite/platform';
import type { ApiTokenClient } from '../domain/api-token-client';
import type { IdentityTokenManager } from '../domain/identity-token-manager';
import { RefusalAuditor } from '../domain/refusal-auditor';
import type { ServiceIdentityStore } from '../domain/service-identity';
import { MemoryAuditLog } from '../store/memory-audit-log';
import { startHttpServer } from './http-server';

/**
 * /oauth2/revoke and /oauth2/introspect are audited: a success only once its record is
 * written (fail closed), every refusal with its reason, and anonymous refusals bounded
 * per source by the RefusalAuditor.
 */
describe('OAuth2 revocation and introspection are audited', () => {
  const TENANT = '11111111-1111-4111-8111-111111111111';
  const SVC = '22222222-2222-4222-8222-222222222222';
  const tokens = new Map<string, { id: string; identityKind: 'service'; identityId: string; tenantId: string }>();
  const audit = new MemoryAuditLog();
  const clock = new FakeClock('2026-12-07T06:00:00Z');
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  let n = 0;

  beforeAll(async () => {
    const apiTokens = {
      verify: async (t: string) => {
        const info = tokens.get(t);
        if (!info) throw unauthenticated('invalid token');
        return { ...info, createdAt: new Date(), expiresAt: new Date(Date.now() + 3600_000), rotationDeadline: null, env: 'live' };
      },
      delete: async (i: { id: string }) => {
        for (const [k, v] of tokens) if (v.id === i.id) tokens.delete(k);
      },
    } as unknown as ApiTokenClient;
    server = await startHttpServer({
      addr: '127.0.0.1:0',
      log: nullLogger,
      healthy: () => true,
      discovery: () => ({ auth_server: '', ca_cert: '', ca_pin: '' }),
      oauth2: {
        tokens: {} as IdentityTokenManager,
        apiTokens,
        services: { getByClientId: async (id: string) => (id === 'ci' ? { id: SVC, tenantId: TENANT } : null) } as unknown as ServiceIdentityStore,
        log: nullLogger,
        issuer: () => '',
        newRequestId: () => `req-${++n}`,
        verifyClient: async (clientId, secret) => {
          if (clientId !== 'ci' || secret !== 'right') throw unauthenticated('invalid client credentials');
        },
        canIntrospect: async (bearer) => {
          if (bearer === 'admin') return { actor: 'user:admin', tenantId: TENANT, allowed: true };
          if (bearer === 'dev') return { actor: 'user:dev', tenantId: TENANT, allowed: false };
          throw unauthenticated('invalid credential');
        },
        audit,
        refusals: new RefusalAuditor({ audit, clock, log: nullLogger, perSource: 5 }),
      },
    });
  });
  afterAll(async () => server.close());
  beforeEach(() => {
    audit.events.length = 0;
    clock.advance(120_000); // a new refusal window
  });

  const post = (path: string, body: string, authorization?: string) =>
    fetch(`http://127.0.0.1:${server.port}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization ? { authorization } : {}) }, body, signal: AbortSignal.timeout(10_000) });
  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  const records = () => audit.events.map((e) => ({ type: e.type, actor: e.actor, target: e.target, result: e.result, reason: e.details.reason }));

  test('a client revoking its own token: requested and success records, token gone', async () => {
    tokens.set('psk_a', { id: 'tok-a', identityKind: 'service', identityId: SVC, tenantId: TENANT });
    expect((await post('/oauth2/revoke', 'token=psk_a', basic('ci', 'right'))).status).toBe(200);
    expect(tokens.has('psk_a')).toBe(false);
    expect(records()).toEqual([
      { type: 'token.revoke', actor: `service:${SVC}`, target: 'token:tok-a', result: 'requested', reason: undefined },
      { type: 'token.revoke', actor: `service:${SVC}`, target: 'token:tok-a', result: 'success', reason: undefined },
    ]);
  });

  test('with the audit log down the revocation does not happen and the client is told to retry', async () => {
    tokens.set('psk_b', { id: 'tok-b', identityKind: 'service', identityId: SVC, tenantId: TENANT });
    audit.failNext = true;
    expect((await post('/oauth2/revoke', 'token=psk_b', basic('ci', 'right'))).status).toBeGreaterThanOrEqual(500);
    expect(tokens.has('psk_b')).toBe(true);
  });

  test("another identity's token and an unknown token are answered 200 and audited as refusals", async () => {
    tokens.set('psk_other', { id: 'tok-o', identityKind: 'service', identityId: 'someone-else', tenantId: 'other-tenant' });
    expect((await post('/oauth2/revoke', 'token=psk_other', basic('ci', 'right'))).status).toBe(200);
    expect((await post('/oauth2/revoke', 'token=psk_nope', basic('ci', 'right'))).status).toBe(200);
    expect(tokens.has('psk_other')).toBe(true);
    expect(records()).toEqual([
      { type: 'token.revoke', actor: `service:${SVC}`, target: 'token:?', result: 'failure', reason: "not the client's own token" },
      { type: 'token.revoke', actor: 'anonymous', target: 'token:?', result: 'failure', reason: 'unknown token' },
    ]);
    expect(audit.events[0]?.tenantId).toBe(TENANT);
  });

  test('bad client credentials at /oauth2/revoke are audited, at most perSource + 1 records per source and window', async () => {
    for (let i = 0; i < 20; i++) expect((await post('/oauth2/revoke', 'token=x', basic('ci', 'wrong'))).status).toBe(401);
    expect(records()).toHaveLength(6);
    expect(records()[0]).toEqual({ type: 'token.revoke', actor: 'anonymous', target: 'token:?', result: 'failure', reason: 'invalid client credentials' });
    expect(records()[5]?.reason).toBe('audit limit reached');
  });

  test('an admin introspecting: one success record per answer, active or not', async () => {
    tokens.set('psk_c', { id: 'tok-c', identityKind: 'service', identityId: SVC, tenantId: TENANT });
    expect(await (await post('/oauth2/introspect', 'token=psk_c', 'Bearer admin')).json()).toMatchObject({ active: true, jti: 'tok-c' });
    expect(await (await post('/oauth2/introspect', 'token=psk_nope', 'Bearer admin')).json()).toEqual({ active: false });
    expect(audit.events.map((e) => [e.type, e.actor, e.target, e.result, e.details.active])).toEqual([
      ['token.introspect', 'user:admin', 'token:tok-c', 'success', 'true'],
      ['token.introspect', 'user:admin', 'token:?', 'success', 'false'],
    ]);
  });

  test('with the audit log down an admin gets no introspection answer', async () => {
    tokens.set('psk_d', { id: 'tok-d', identityKind: 'service', identityId: SVC, tenantId: TENANT });
    audit.failNext = true;
    const res = await post('/oauth2/introspect', 'token=psk_d', 'Bearer admin');
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(JSON.stringify(await res.json())).not.toContain('tok-d');
  });

  test('introspection without a bearer, or by a non-admin, is audited as a refusal; anonymous ones bounded per source', async () => {
    expect((await post('/oauth2/introspect', 'token=x', 'Bearer dev')).status).toBe(401);
    for (let i = 0; i < 20; i++) expect((await post('/oauth2/introspect', 'token=x')).status).toBe(401);
    expect(records().slice(0, 2)).toEqual([
      { type: 'token.introspect', actor: 'user:dev', target: 'token:?', result: 'failure', reason: 'not an admin' },
      { type: 'token.introspect', actor: 'anonymous', target: 'token:?', result: 'failure', reason: 'no bearer credential' },
    ]);
    expect(records()).toHaveLength(6); // 5 per source (the non-admin's counted too), then one "audit limit reached"
  });
});
