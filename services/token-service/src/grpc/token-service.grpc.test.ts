// ApiTokenService over a real gRPC server on 127.0.0.1:0 with the internal mTLS the
// service uses, on memory stores: the proto ↔ domain mapping and the status codes a
// caller (the auth-server) sees.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '@mezite/identity';
import {
  createGrpcServer,
  createMeziteClients,
  ensureInternalPki,
  internalChannelCredentials,
  internalServerCredentials,
  MemoryCache,
  nullLogger,
  type GrpcServer,
  type MeziteCallOptions,
  type MeziteClients,
} from '@mezite/platform';
import { tokenv1 } from '@mezite/proto';
import type { Client } from 'nice-grpc';
import { ApiTokenCache } from '../domain/api-token-cache';
import { ApiTokenManager } from '../domain/api-token-manager';
import { ApiTokenVerifier } from '../domain/api-token-verifier';
import { ClientSecretManager } from '../domain/client-secret-manager';
import { LastUseRecorder } from '../domain/last-use-recorder';
import { MemoryApiTokenStore } from '../store/memory-api-token-store';
import { MemoryClientSecretStore } from '../store/memory-client-secret-store';
import { apiTokenHandlers } from './api-token-handlers';

let dir: string;
let server: GrpcServer;
let clients: MeziteClients;
let api: Client<typeof tokenv1.ApiTokenServiceDefinition, MeziteCallOptions>;
let cache: MemoryCache;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mezite-token-grpc-'));
  const pki = await ensureInternalPki({ dir: join(dir, 'pki'), names: ['token-service', 'auth-server'] });
  const pepper = randomBytes(32);
  const clock = systemClock;
  cache = new MemoryCache();
  const apiStore = new MemoryApiTokenStore();
  const tokenCache = new ApiTokenCache(cache);
  const lastUse = new LastUseRecorder({ store: apiStore, logger: nullLogger });
  server = createGrpcServer({ name: 'mezite.token.v1.ApiTokenService', logger: nullLogger });
  server.services.add(
    tokenv1.ApiTokenServiceDefinition,
    apiTokenHandlers({
      tokens: new ApiTokenManager({ store: apiStore, cache: tokenCache, clock, pepper, logger: nullLogger }),
      verifier: new ApiTokenVerifier({ store: apiStore, cache: tokenCache, clock, pepper, logger: nullLogger, lastUse }),
      clientSecrets: new ClientSecretManager({ store: new MemoryClientSecretStore(), clock, pepper }),
    }),
  );
  const me = pki.leaf('token-service');
  const port = await server.listen('127.0.0.1:0', internalServerCredentials({ caCertPem: pki.caCertPem, certPem: me.certPem, keyPem: me.keyPem }));
  const caller = pki.leaf('auth-server');
  clients = createMeziteClients({
    address: `127.0.0.1:${port}`,
    credentials: internalChannelCredentials({ caCertPem: pki.caCertPem, certPem: caller.certPem, keyPem: caller.keyPem }),
    peerName: 'token-service',
    channelOptions: { 'grpc.ssl_target_name_override': 'token-service' },
  });
  api = clients.create(tokenv1.ApiTokenServiceDefinition);
});

afterAll(async () => {
  clients?.close();
  await server?.shutdown(1000);
  await cache?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('ApiTokenService', () => {
  const owner = { tenantId: randomUUID(), identityId: randomUUID() };

  test('mint, verify, list, rotate, delete: the seed 000 lifecycle', async () => {
    const minted = await api.mintApiToken({ ...owner, identityKind: 'service', envPrefix: 'live', ttlSeconds: 0 });
    expect(minted.plaintext).toMatch(/^psk_live_[0-9A-Za-z]{28}$/);
    expect(minted.token).toMatchObject({ ...owner, identityKind: 'service', envPrefix: 'live', lastUsedTime: undefined, rotateTime: undefined, rotationDeadline: undefined });
    const id = minted.token?.id as string;
    expect(await api.verifyApiToken({ plaintext: minted.plaintext })).toMatchObject({ id, ...owner });
    expect((await api.listApiTokens(owner)).tokens.map((t) => t.id)).toEqual([id]);

    const rotated = await api.rotateApiToken({ ...owner, id, overlapSeconds: 0 });
    const overlapMs = (rotated.rotationDeadline?.getTime() ?? 0) - (rotated.token?.createTime?.getTime() ?? 0);
    expect(overlapMs).toBe(48 * 3_600_000);
    expect(rotated.token?.expireTime).toEqual(minted.token?.expireTime);
    expect(await api.verifyApiToken({ plaintext: minted.plaintext })).toMatchObject({ id, rotationDeadline: rotated.rotationDeadline });
    await expect(api.rotateApiToken({ ...owner, id, overlapSeconds: 0 })).rejects.toMatchObject({ code: 'FailedPrecondition' });
    expect((await api.listApiTokens(owner)).tokens.map((t) => t.id)).toEqual([rotated.token?.id, id]);

    await api.deleteApiToken({ ...owner, id });
    await expect(api.verifyApiToken({ plaintext: minted.plaintext })).rejects.toMatchObject({ code: 'Unauthenticated', message: 'invalid api token' });
    // Its successor goes with it.
    await expect(api.verifyApiToken({ plaintext: rotated.plaintext })).rejects.toMatchObject({ code: 'Unauthenticated', message: 'invalid api token' });
    expect((await api.listApiTokens(owner)).tokens).toEqual([]);
    await expect(api.deleteApiToken({ ...owner, id: randomUUID() })).rejects.toMatchObject({ code: 'NotFound' });
  });

  test('client secrets: set (fixture), verify, one error for wrong secret and unknown client, delete', async () => {
    const serviceIdentityId = randomUUID();
    const set = await api.setClientSecret({ tenantId: owner.tenantId, clientId: 'svc-deployer', serviceIdentityId, secret: 'svc-deployer-demo-secret' });
    expect(set.secret).toBe('svc-deployer-demo-secret');
    expect(await api.verifyClientSecret({ clientId: 'svc-deployer', secret: 'svc-deployer-demo-secret' })).toEqual({ tenantId: owner.tenantId, serviceIdentityId });
    for (const bad of [{ clientId: 'svc-deployer', secret: 'wrong-secret-0000000' }, { clientId: 'svc-nobody', secret: 'svc-deployer-demo-secret' }]) {
      await expect(api.verifyClientSecret(bad)).rejects.toMatchObject({ code: 'Unauthenticated', message: 'invalid client credentials' });
    }
    const generated = await api.setClientSecret({ tenantId: owner.tenantId, clientId: 'svc-deployer', serviceIdentityId, secret: '' });
    expect(Buffer.from(generated.secret, 'base64url')).toHaveLength(32);
    await api.deleteClientSecret({ clientId: 'svc-deployer' });
    await expect(api.verifyClientSecret({ clientId: 'svc-deployer', secret: generated.secret })).rejects.toMatchObject({ code: 'Unauthenticated' });
  });
});
