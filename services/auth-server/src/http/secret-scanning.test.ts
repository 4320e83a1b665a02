import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import * as fc from 'fast-check';
import { FakeClock, generateApiToken, unauthenticated, unavailable } from '@mezite/identity';
import { assertAsyncProperty } from '@mezite/identity/testing';
import { nullLogger } from '@mezite/platform';
import { MemoryAuditLog } from '../store/memory-audit-log';
import type { ApiTokenClient, ApiTokenInfo } from '../domain/api-token-client';
import { FailureLimiter } from '../domain/failure-limiter';
import { RefusalAuditor } from '../domain/refusal-auditor';
import { MAX_REPORTED_TOKENS, REPORTS_PER_SOURCE_PER_MINUTE, secretScanningEndpoint, type SecretScanningDeps } from './secret-scanning';

const req = (contentType = 'application/json') => ({ headers: { 'content-type': contentType } }) as unknown as IncomingMessage;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** token-service as the endpoint sees it: live tokens by plaintext; every call counted. */
function fakeTokens() {
  const live = new Map<string, ApiTokenInfo>();
  const calls: string[] = [];
  let down = false;
  const client: Pick<ApiTokenClient, 'verify' | 'delete'> = {
    verify: async (plaintext) => {
      calls.push('verify');
      if (down) throw unavailable('token-service is unavailable');
      const t = live.get(plaintext);
      if (!t) throw unauthenticated('invalid api token', { cause: new Error('unknown') });
      return t;
    },
    delete: async (i) => {
      calls.push(`delete ${i.id}`);
      for (const [k, t] of live) if (t.id === i.id) live.delete(k);
    },
  };
  const mint = () => {
    const plaintext = generateApiToken('live');
    const info = { id: randomUUID(), tenantId: randomUUID(), identityKind: 'service', identityId: randomUUID(), env: 'live', createdAt: new Date(), expiresAt: new Date(Date.now() + 3600_000), lastUsedAt: null, rotatedAt: null, rotationDeadline: null } as ApiTokenInfo;
    live.set(plaintext, info);
    return { plaintext, info };
  };
  return { client, calls, mint, live, down: (v: boolean) => (down = v) };
}

function setup() {
  const clock = new FakeClock('2026-12-07T10:00:00Z');
  const audit = new MemoryAuditLog();
  const tokens = fakeTokens();
  const deps: SecretScanningDeps = {
    apiTokens: tokens.client,
    audit,
    refusals: new RefusalAuditor({ audit, clock, log: nullLogger }),
    reports: new FailureLimiter({ clock, maxFailures: REPORTS_PER_SOURCE_PER_MINUTE, windowMs: 60_000 }),
    log: nullLogger,
  };
  let n = 0;
  const post = (body: unknown, source = '198.51.100.7', contentType?: string) =>
    secretScanningEndpoint(req(contentType), deps, { body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), source, requestId: `r-${++n}` });
  return { clock, audit, tokens, deps, post };
}

describe('POST /v1/secret-scanning/revoke: anyone who finds a leaked token can revoke it', () => {
  test('a live token is revoked (its chain, as identity-tokens delete), audited first with where it was found, and answered true_positive', async () => {
    const { tokens, audit, post } = setup();
    const { plaintext, info } = tokens.mint();
    const r = await post([{ token: plaintext, type: 'mezite_api_token', url: 'https://github.com/o/r/blob/abc/deploy.sh', source: 'content' }]);
    expect(r).toEqual({ status: 200, body: [{ token_hash: sha256(plaintext), token_type: 'mezite_api_token', label: 'true_positive' }] });
    expect(tokens.calls).toEqual(['verify', `delete ${info.id}`]);
    expect(tokens.live.size).toBe(0);
    expect(audit.events.map((e) => [e.type, e.result, e.target, e.tenantId])).toEqual([
      ['token.leak_revoke', 'requested', `token:${info.id}`, info.tenantId],
      ['token.leak_revoke', 'success', `token:${info.id}`, info.tenantId],
    ]);
    expect(audit.events[1]?.details).toMatchObject({ found_at: 'https://github.com/o/r/blob/abc/deploy.sh', found_in: 'content', identity: `service:${info.identityId}` });
    expect(JSON.stringify(audit.events)).not.toContain(plaintext);
  });

  test('a candidate whose checksum fails is false_positive without any lookup; an unknown well-formed one is false_positive after one', async () => {
    const { tokens, post } = setup();
    const real = generateApiToken('live');
    const forged = `${real.slice(0, -1)}${real.endsWith('A') ? 'B' : 'A'}`;
    const r = await post([{ token: forged }, { token: 'ghp_notoursatall' }, { token: real, type: 'x' }]);
    expect(r.status).toBe(200);
    expect(r.body).toEqual([
      { token_hash: sha256(forged), token_type: 'mezite_api_token', label: 'false_positive' },
      { token_hash: sha256('ghp_notoursatall'), token_type: 'mezite_api_token', label: 'false_positive' },
      { token_hash: sha256(real), token_type: 'x', label: 'false_positive' },
    ]);
    expect(tokens.calls).toEqual(['verify']); // only the well-formed one was looked up
  });

  test('token-service down: 503 with a retry hint, and no token is called a false positive', async () => {
    const { tokens, post } = setup();
    const { plaintext } = tokens.mint();
    tokens.down(true);
    const r = await post([{ token: plaintext }]);
    expect(r).toMatchObject({ status: 503, body: { error: 'temporarily_unavailable' }, headers: { 'retry-after': '5' } });
    tokens.down(false);
    expect((await post([{ token: plaintext }])).body).toEqual([expect.objectContaining({ label: 'true_positive' })]);
  });

  test('an audit log that cannot record: 503, and the token is not revoked (audited before it happens)', async () => {
    const { tokens, audit, post } = setup();
    const { plaintext } = tokens.mint();
    audit.failNext = true;
    expect((await post([{ token: plaintext }])).status).toBe(503);
    expect(tokens.live.size).toBe(1);
  });

  test.each<[string, unknown, string | undefined]>([
    ['not JSON', '{nope', undefined],
    ['not an array', { token: 'x' }, undefined],
    ['an empty array', [], undefined],
    ['too many tokens', Array.from({ length: MAX_REPORTED_TOKENS + 1 }, () => ({ token: 'psk_live_x' })), undefined],
    ['an element that is not an object', ['psk_live_x'], undefined],
    ['a token that is not a string', [{ token: 42 }], undefined],
    ['a 257-character token', [{ token: 'x'.repeat(257) }], undefined],
    ['a url that is not a string', [{ token: 'psk_live_x', url: ['a'] }], undefined],
    ['a form body', 'token=psk_live_x', 'application/x-www-form-urlencoded'],
  ])('%s is a 400 with an OAuth2-style error, and nothing is looked up', async (_name, body, contentType) => {
    const { tokens, post } = setup();
    const r = await post(body, undefined, contentType);
    expect(r).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(tokens.calls).toEqual([]);
  });

  test(`one source may send ${REPORTS_PER_SOURCE_PER_MINUTE} reports a minute; then 429 (one audit record), others are unaffected, and a minute later it may again`, async () => {
    const { clock, audit, post } = setup();
    for (let i = 0; i < REPORTS_PER_SOURCE_PER_MINUTE; i++) expect((await post([{ token: 'nope' }], '203.0.113.1')).status).toBe(200);
    for (let i = 0; i < 5; i++) expect(await post([{ token: 'nope' }], '203.0.113.1')).toMatchObject({ status: 429, headers: { 'retry-after': '60' } });
    expect(audit.events.filter((e) => e.details.reason === 'rate limited')).toHaveLength(1);
    expect((await post([{ token: 'nope' }], '203.0.113.2')).status).toBe(200);
    clock.advance(61_000);
    expect((await post([{ token: 'nope' }], '203.0.113.1')).status).toBe(200);
  });

  test('the answer tells nothing but the label: same status, same fields, token_hash = SHA-256 of the token, whatever was found', async () => {
    await assertAsyncProperty(
      fc.asyncProperty(fc.array(fc.constantFrom('live', 'unknown', 'forged', 'garbage'), { minLength: 1, maxLength: 8 }), fc.string({ maxLength: 20 }), async (kinds, type) => {
        const { tokens, post } = setup();
        const report = kinds.map((k) => {
          const t = k === 'live' ? tokens.mint().plaintext : k === 'unknown' ? generateApiToken('dev') : k === 'forged' ? `${generateApiToken('live').slice(0, -6)}000000` : 'x-not-a-token';
          return { token: t, type, url: '', source: 'content' };
        });
        const r = await post(report);
        expect(r.status).toBe(200);
        expect(r.headers).toBeUndefined();
        const body = r.body as Array<Record<string, unknown>>;
        expect(body).toHaveLength(report.length);
        body.forEach((v, i) => {
          expect(Object.keys(v).sort()).toEqual(['label', 'token_hash', 'token_type']);
          expect(v.token_hash).toBe(sha256(report[i]!.token));
          expect(v.token_type).toBe(type || 'mezite_api_token');
          expect(v.label).toBe(kinds[i] === 'live' ? 'true_positive' : 'false_positive');
        });
      }),
      { numRuns: 200 },
    );
  });
});
