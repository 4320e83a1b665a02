// GrpcApiTokenClient.verify: coalesced into VerifyApiTokens, and reused for the lease
// token-service grants (the refusal reasons are in api-token-client.test.ts).
import { GrpcStatus, MeziteError, unauthenticated } from '@mezite/identity';
import type { MeziteCallOptions } from '@mezite/platform';
import type { tokenv1 } from '@mezite/proto';
import type { Client } from 'nice-grpc';
import { refusalOf } from '../domain/refusal';
import { presenterOf } from '../domain/api-token-client';
import { GrpcApiTokenClient } from './api-token-client';
import { TokenLeases } from './token-leases';

type ApiClient = Client<typeof tokenv1.ApiTokenServiceDefinition, MeziteCallOptions>;

const TENANT = '11111111-1111-4111-8111-111111111111';
const REVOKED_ID = '33333333-3333-4333-8333-333333333333';
const record = (id: string): tokenv1.ApiTokenRecord => ({
  id,
  tenantId: TENANT,
  identityKind: 'service',
  identityId: '22222222-2222-4222-8222-222222222222',
  envPrefix: 'live',
  createTime: new Date('2026-01-01T00:00:00Z'),
  expireTime: new Date('2099-01-01T00:00:00Z'),
  recentUsers: [],
  lastUsedTime: undefined,
  rotateTime: undefined,
  rotationDeadline: undefined,
});
const NONE: tokenv1.ApiTokenVerification = { token: undefined, code: 0, message: '', refusal: '', refusedTokenId: '', refusedTenantId: '', leaseMs: 0 };

/** token-service as the client sees it: `good-N` verify, `revoked` is refused with a reason, anything else cannot be decided. */
function answer(p: string, leaseMs: number): tokenv1.ApiTokenVerification {
  if (p.startsWith('good-')) return { ...NONE, token: record(`44444444-4444-4444-8444-44444444444${p.slice(-1)}`), leaseMs };
  if (p === 'revoked') return { ...NONE, code: GrpcStatus.UNAUTHENTICATED, message: 'invalid api token', refusal: 'revoked', refusedTokenId: REVOKED_ID, refusedTenantId: TENANT };
  return { ...NONE, code: GrpcStatus.UNAVAILABLE, message: 'database unavailable' };
}

function fakeTokenService(o: { unimplemented?: boolean; leaseMs?: number } = {}) {
  const batches: string[][] = [];
  const singles: string[] = [];
  const client = {
    verifyApiTokens: async (req: tokenv1.VerifyApiTokensRequest) => {
      batches.push(req.plaintexts);
      if (o.unimplemented) throw new MeziteError('Internal', 'unknown method', { cause: { code: GrpcStatus.UNIMPLEMENTED } });
      return { results: req.plaintexts.map((p) => answer(p, o.leaseMs ?? 0)) };
    },
    verifyApiToken: async (req: tokenv1.VerifyApiTokenRequest) => {
      singles.push(req.plaintext);
      const a = answer(req.plaintext, 0);
      if (a.token) return a.token;
      throw unauthenticated('invalid api token');
    },
  } as unknown as ApiClient;
  return { client, batches, singles };
}

test('verifications asked together go to token-service in one call, each plaintext once', async () => {
  const ts = fakeTokenService();
  const c = new GrpcApiTokenClient(ts.client);
  const r = await Promise.all(['good-1', 'good-2', 'good-1', 'good-1'].map((p) => c.verify(p)));
  expect(r.map((t) => t.id.slice(-1))).toEqual(['1', '2', '1', '1']);
  expect(r[0]).toMatchObject({ tenantId: TENANT, identityKind: 'service', env: 'live', rotationDeadline: null });
  expect(ts.batches).toEqual([['good-1', 'good-2']]);
  expect(ts.singles).toEqual([]);
});

test('each verification of a batch ends on its own: a refusal (with its reason), an outage, a token', async () => {
  const ts = fakeTokenService();
  const c = new GrpcApiTokenClient(ts.client);
  const [good, revoked, down] = await Promise.allSettled(['good-1', 'revoked', 'down'].map((p) => c.verify(p)));
  expect(good?.status).toBe('fulfilled');
  const err = (revoked as PromiseRejectedResult).reason as MeziteError;
  expect(err).toMatchObject({ code: 'Unauthenticated', message: 'invalid api token' });
  expect(refusalOf(err)).toMatchObject({ reason: 'revoked', subject: { tenantId: TENANT, target: `token:${REVOKED_ID}` } });
  expect((down as PromiseRejectedResult).reason).toMatchObject({ code: 'Unavailable', message: 'database unavailable' });
  expect(ts.batches).toHaveLength(1);
});

test('a token-service without VerifyApiTokens (an older replica) is asked one token at a time, for a while', async () => {
  const ts = fakeTokenService({ unimplemented: true });
  const c = new GrpcApiTokenClient(ts.client);
  const r = await Promise.allSettled(['good-1', 'revoked'].map((p) => c.verify(p)));
  expect(r.map((x) => x.status)).toEqual(['fulfilled', 'rejected']);
  expect(ts.singles.sort()).toEqual(['good-1', 'revoked']);
  await c.verify('good-2');
  expect(ts.batches).toHaveLength(1);
});

test('a verified token is reused for the lease token-service granted, counted from when it was asked; refusals never are', async () => {
  const ts = fakeTokenService({ leaseMs: 1000 });
  let mono = 0;
  const c = new GrpcApiTokenClient(ts.client, new TokenLeases({ monotonicNow: () => mono }));
  await c.verify('good-1');
  await Promise.allSettled([c.verify('good-1'), c.verify('revoked')]);
  mono = 999;
  await c.verify('good-1');
  expect(ts.batches).toEqual([['good-1'], ['revoked']]);
  mono = 1000; // the lease ran out: token-service decides again
  await c.verify('good-1');
  await expect(c.verify('revoked')).rejects.toMatchObject({ code: 'Unauthenticated' });
  expect(ts.batches).toEqual([['good-1'], ['revoked'], ['good-1'], ['revoked']]);
});

test('without a lease every verification goes to token-service', async () => {
  const ts = fakeTokenService();
  const c = new GrpcApiTokenClient(ts.client);
  await c.verify('good-1');
  await c.verify('good-1');
  expect(ts.batches).toEqual([['good-1'], ['good-1']]);
});

describe('mintForClient', () => {
  const svc = { tenantId: TENANT, serviceIdentityId: '22222222-2222-4222-8222-222222222222' };
  const grant = (secret: string) => ({ clientId: 'svc-a', secret, ...svc, env: 'live' as const, ttlSeconds: 60 });

  function fakeMinter(o: { unimplemented?: boolean } = {}) {
    const calls: string[][] = [];
    let n = 0;
    const client = {
      mintClientApiTokens: async (req: tokenv1.MintClientApiTokensRequest) => {
        calls.push(req.grants.map((g) => g.secret));
        if (o.unimplemented) throw new MeziteError('Internal', 'unknown method', { cause: { code: GrpcStatus.UNIMPLEMENTED } });
        return {
          results: req.grants.map((g) =>
            g.secret === 'right' ? { minted: { plaintext: `psk_live_${++n}`, token: record(`55555555-5555-4555-8555-55555555555${n}`) }, code: 0, message: '' } : { minted: undefined, code: GrpcStatus.UNAUTHENTICATED, message: 'invalid client credentials' },
          ),
        };
      },
      verifyClientSecret: async (req: tokenv1.VerifyClientSecretRequest) => {
        calls.push([`verify ${req.secret}`]);
        if (req.secret === 'right') return svc;
        if (req.secret === 'other-identity') return { ...svc, serviceIdentityId: '66666666-6666-4666-8666-666666666666' };
        throw unauthenticated('invalid client credentials');
      },
      mintApiToken: async () => {
        calls.push(['mint']);
        return { plaintext: `psk_live_${++n}`, token: record(`55555555-5555-4555-8555-55555555555${n}`) };
      },
    } as unknown as ApiClient;
    return { client, calls };
  }

  test('grants made together go to token-service in one call, each minting its own token; a refused one fails alone', async () => {
    const m = fakeMinter();
    const c = new GrpcApiTokenClient(m.client);
    const r = await Promise.allSettled([c.mintForClient(grant('right')), c.mintForClient(grant('wrong')), c.mintForClient(grant('right'))]);
    expect(m.calls).toEqual([['right', 'wrong', 'right']]);
    expect(r.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const [a, , b] = r as Array<PromiseFulfilledResult<{ plaintext: string }>>;
    expect(a?.value.plaintext).not.toBe(b?.value.plaintext);
    expect((r[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'Unauthenticated', message: 'invalid client credentials' });
  });

  test('a token-service without MintClientApiTokens: verify, check whom the secret belongs to, then mint', async () => {
    const m = fakeMinter({ unimplemented: true });
    const c = new GrpcApiTokenClient(m.client);
    const r = await Promise.allSettled([c.mintForClient(grant('right')), c.mintForClient(grant('other-identity'))]);
    expect(r.map((x) => x.status)).toEqual(['fulfilled', 'rejected']);
    expect((r[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'Unauthenticated', message: 'invalid client credentials' });
    expect(m.calls.filter((x) => x[0] === 'mint')).toHaveLength(1);
  });
});

test('who presented each token reaches token-service: coalesced verifications with their count, uses answered from a lease in the next report', async () => {
  const presenters: tokenv1.ApiTokenPresenter[][] = [];
  const reported: tokenv1.ApiTokenUse[][] = [];
  let failReport = true;
  const client = {
    verifyApiTokens: async (req: tokenv1.VerifyApiTokensRequest) => {
      presenters.push(req.presenters);
      return { results: req.plaintexts.map((p) => answer(p, 1000)) };
    },
    recordApiTokenUses: async (req: tokenv1.RecordApiTokenUsesRequest) => {
      if (failReport) throw new MeziteError('Unavailable', 'token-service down');
      reported.push(req.uses);
      return {};
    },
  } as unknown as ApiClient;
  const c = new GrpcApiTokenClient(client, new TokenLeases({ monotonicNow: () => 0 }));
  const a = presenterOf('10.2.0.7', 'deploy-bot/1.4');
  const b = presenterOf('10.2.0.8', 'evil\u0000\u001b[2J' + 'x'.repeat(300));
  expect(b.client).toMatch(/^[\x20-\x7e]{1,128}$/);
  await Promise.all([c.verify('good-1', undefined, a), c.verify('good-1', undefined, a), c.verify('good-1', undefined, a), c.verify('good-1', undefined, b)]);
  expect(presenters).toEqual([[{ ...a, uses: 3 }, { ...b, uses: 1 }]]);
  // Within the lease: answered here, counted for the report; a failed report is kept.
  for (let i = 0; i < 5; i++) await c.verify('good-1', undefined, a);
  expect(presenters).toHaveLength(1);
  await c.reportLeasedUses();
  failReport = false;
  await c.verify('good-1', undefined, b);
  await c.reportLeasedUses();
  expect(reported).toEqual([[{ tokenId: '44444444-4444-4444-8444-444444444441', presenter: { ...a, uses: 5 } }, { tokenId: '44444444-4444-4444-8444-444444444441', presenter: { ...b, uses: 1 } }]]);
});
