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
