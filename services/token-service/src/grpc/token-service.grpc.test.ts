// JoinTokenService and ApiTokenService over a real gRPC server on 127.0.0.1:0 with the
// internal mTLS the service uses, on memory stores: the proto ↔ domain mapping and the
// status codes a caller (the auth-server) sees.
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
import { JoinTokenManager } from '../domain/join-token-manager';
import { LastUseRecorder } from '../domain/last-use-recorder';
import { MemoryApiTokenStore } from '../store/memory-api-token-store';
import { MemoryClientSecretStore } from '../store/memory-client-secret-store';
import { MemoryJoinTokenStore } from '../store/memory-join-token-store';
import { apiTokenHandlers } from './api-token-handlers';
import { joinTokenHandlers } from './join-token-handlers';

let dir: string;
let server: GrpcServer;
let clients: MeziteClients;
let joinTokens: Client<typeof tokenv1.JoinTokenServiceDefinition, MeziteCallOptions>;
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
  server = createGrpcServer({ name: 'mezite.token.v1.JoinTokenService', logger: nullLogger });
  server.services.add(tokenv1.JoinTokenServiceDefinition, joinTokenHandlers(new JoinTokenManager({ store: new MemoryJoinTokenStore(), clock, pepper })));
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
  joinTokens = clients.create(tokenv1.JoinTokenServiceDefinition);
  api = clients.create(tokenv1.ApiTokenServiceDefinition);
});

afterAll(async () => {
  clients?.close();
  await server?.shutdown(1000);
  await cache?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const BOT = tokenv1.SubjectKind.SUBJECT_KIND_BOT;

describe('JoinTokenService redemption', () => {
  test('claim → confirm: the subject is named once, then the token is used', async () => {
    const tenantId = randomUUID();
    const subjectId = randomUUID();
    const { token, id } = await joinTokens.createJoinToken({ tenantId, subjectKind: BOT, subjectId, ttlSeconds: 600 });
    const c = await joinTokens.claimJoinToken({ token, claimTtlSeconds: 0 });
    expect(c).toEqual({ claimId: expect.any(String), tokenId: id, tenantId, subjectKind: BOT, subjectId });
    await expect(joinTokens.claimJoinToken({ token, claimTtlSeconds: 0 })).rejects.toMatchObject({ code: 'Unauthenticated', message: 'invalid join token' });
    await joinTokens.confirmJoinToken({ claimId: c.claimId });
    await expect(joinTokens.claimJoinToken({ token, claimTtlSeconds: 0 })).rejects.toMatchObject({ code: 'Unauthenticated', message: 'invalid join token' });
    await expect(joinTokens.confirmJoinToken({ claimId: c.claimId })).rejects.toMatchObject({ code: 'FailedPrecondition' });
  });

  test('claim → release: the token can be claimed again; a malformed token is the same error', async () => {
    const { token } = await joinTokens.createJoinToken({ tenantId: randomUUID(), subjectKind: BOT, subjectId: randomUUID(), ttlSeconds: 600 });
    const c = await joinTokens.claimJoinToken({ token, claimTtlSeconds: 30 });
    await joinTokens.releaseJoinToken({ claimId: c.claimId });
    await joinTokens.releaseJoinToken({ claimId: c.claimId }); // idempotent
    expect((await joinTokens.claimJoinToken({ token, claimTtlSeconds: 30 })).claimId).not.toBe(c.claimId);
    await expect(joinTokens.claimJoinToken({ token: 'tok-bot-nope', claimTtlSeconds: 0 })).rejects.toMatchObject({ code: 'Unauthenticated', message: 'invalid join token' });
    await expect(joinTokens.releaseJoinToken({ claimId: 'nope' })).rejects.toMatchObject({ code: 'InvalidArgument' });
  });
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
    expect(await api.verifyApiToken({ plaintext: minted.plaintext })).toMatchObject({ id, rotationDeadline: rotated.rotationDeadline });
    await expect(api.rotateApiToken({ ...owner, id, overlapSeconds: 0 })).rejects.toMatchObject({ code: 'FailedPrecondition' });
    expect((await api.listApiTokens(owner)).tokens.map((t) => t.id)).toEqual([rotated.token?.id, id]);

    await api.deleteApiToken({ ...owner, id });
    await expect(api.verifyApiToken({ plaintext: minted.plaintext })).rejects.toMatchObject({ code: 'Unauthenticated', message: 'invalid api token' });
    expect(await api.verifyApiToken({ plaintext: rotated.plaintext })).toMatchObject({ id: rotated.token?.id });
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
