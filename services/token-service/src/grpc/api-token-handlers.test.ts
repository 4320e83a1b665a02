import { Metadata } from 'nice-grpc';
import { nullLogger } from '@mezite/platform';
import { apiTokenReplica, failure } from '../domain/api-token-harness';
import { ClientSecretManager } from '../domain/client-secret-manager';
import { MemoryClientSecretStore } from '../store/memory-client-secret-store';
import { apiTokenHandlers, REFUSAL_TRAILER, REFUSED_TENANT_TRAILER, REFUSED_TOKEN_TRAILER } from './api-token-handlers';

describe('VerifyApiToken refusal trailers', () => {
  const setup = () => {
    const r = apiTokenReplica();
    const handlers = apiTokenHandlers({ tokens: r.manager, verifier: r.verifier, clientSecrets: new ClientSecretManager({ store: new MemoryClientSecretStore(), clock: r.clock, pepper: r.pepper }) });
    const call = async (plaintext: string) => {
      const ctx = { trailer: Metadata(), requestId: 'r', log: nullLogger } as unknown as Parameters<typeof handlers.verifyApiToken>[1];
      const err = await failure(handlers.verifyApiToken({ plaintext, presenter: undefined }, ctx) as Promise<unknown>);
      return { err: `${(err as { code?: string }).code}: ${(err as Error).message}`, trailer: Object.fromEntries([REFUSAL_TRAILER, REFUSED_TOKEN_TRAILER, REFUSED_TENANT_TRAILER].map((k) => [k, ctx.trailer.get(k)])) };
    };
    return { r, call };
  };

  test('the reason (and the id and tenant of a token that was found) go in trailers; the error is unchanged', async () => {
    const { r, call } = setup();
    const t = await r.mint(60);
    r.clock.advance(61_000);
    expect(await call(t.plaintext)).toEqual({ err: 'Unauthenticated: invalid api token', trailer: { [REFUSAL_TRAILER]: 'expired', [REFUSED_TOKEN_TRAILER]: t.token.id, [REFUSED_TENANT_TRAILER]: r.identity.tenantId } });
    expect(await call('psk_live_nope')).toEqual({ err: 'Unauthenticated: invalid api token', trailer: { [REFUSAL_TRAILER]: 'malformed', [REFUSED_TOKEN_TRAILER]: undefined, [REFUSED_TENANT_TRAILER]: undefined } });
  });
});

describe('RecordApiTokenUses', () => {
  test('adds the uses the auth-server answered from its lease to the token\'s usage; malformed ids are dropped; more than 10 000 entries is InvalidArgument', async () => {
    const r = apiTokenReplica();
    const handlers = apiTokenHandlers({ tokens: r.manager, verifier: r.verifier, lastUse: r.lastUse, now: () => r.clock.now(), clientSecrets: new ClientSecretManager({ store: new MemoryClientSecretStore(), clock: r.clock, pepper: r.pepper }) });
    const ctx = { trailer: Metadata(), requestId: 'r', log: nullLogger } as unknown as Parameters<typeof handlers.recordApiTokenUses>[1];
    const t = await r.mint();
    await handlers.recordApiTokenUses({ uses: [{ tokenId: t.token.id, presenter: { source: '10.2.0.7', client: 'deploy-bot/1.4', uses: 214 } }, { tokenId: 'not-a-uuid', presenter: undefined }] }, ctx);
    const usage = await r.manager.usage({ ...r.identity, id: t.token.id });
    expect(usage.usage.map((u) => [u.source, u.client, u.count])).toEqual([['10.2.0.7', 'deploy-bot/1.4', 214]]);
    const many = Array.from({ length: 10_001 }, () => ({ tokenId: t.token.id, presenter: undefined }));
    expect(await failure(handlers.recordApiTokenUses({ uses: many }, ctx) as Promise<unknown>)).toMatchObject({ code: 'InvalidArgument' });
  });
});
