// VerifyApiTokens and MintClientApiToken over a real gRPC server on 127.0.0.1:0 with the
// internal mTLS the service uses, on memory stores: each batched answer is what the
// single call answers, and a client's sign-in mints only for the identity its secret is
// bound to.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GrpcStatus, systemClock, generateApiToken } from '@mezite/identity';
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
  dir = mkdtempSync(join(tmpdir(), 'mezite-token-batch-'));
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
      verificationLeaseMs: 750,
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

const owner = { tenantId: randomUUID(), identityId: randomUUID() };

describe('VerifyApiTokens', () => {
  test('answers each plaintext in order, as VerifyApiToken does, with the reason of each refusal', async () => {
    const a = await api.mintApiToken({ ...owner, identityKind: 'service', envPrefix: 'live', ttlSeconds: 0 });
    const b = await api.mintApiToken({ ...owner, identityKind: 'service', envPrefix: 'dev', ttlSeconds: 0 });
    const gone = await api.mintApiToken({ ...owner, identityKind: 'service', envPrefix: 'live', ttlSeconds: 0 });
    await api.deleteApiToken({ ...owner, id: gone.token?.id ?? '' });
    const unknown = generateApiToken('live');

    const r = await api.verifyApiTokens({ plaintexts: [a.plaintext, 'psk_live_nope', b.plaintext, gone.plaintext, unknown, a.plaintext] });
    expect(r.results).toHaveLength(6);
    const [ra, malformed, rb, revoked, none, again] = r.results;
    expect(ra?.token).toMatchObject({ id: a.token?.id, tenantId: owner.tenantId, identityId: owner.identityId, envPrefix: 'live' });
    expect(ra?.leaseMs).toBe(750);
    expect(rb?.token).toMatchObject({ id: b.token?.id, envPrefix: 'dev' });
    expect(again?.token?.id).toBe(a.token?.id);
    const refused = { token: undefined, code: GrpcStatus.UNAUTHENTICATED, message: 'invalid api token', leaseMs: 0 };
    expect(malformed).toEqual({ ...refused, refusal: 'malformed', refusedTokenId: '', refusedTenantId: '' });
    expect(none).toEqual({ ...refused, refusal: 'unknown', refusedTokenId: '', refusedTenantId: '' });
    expect(revoked).toEqual({ ...refused, refusal: 'revoked', refusedTokenId: expect.any(String), refusedTenantId: expect.any(String) });

    // The single call agrees on every one of them.
    await expect(api.verifyApiToken({ plaintext: gone.plaintext })).rejects.toMatchObject({ code: 'Unauthenticated', message: 'invalid api token' });
    expect((await api.verifyApiToken({ plaintext: a.plaintext })).id).toBe(a.token?.id);
  });

  test('an empty call answers nothing; more than 1000 plaintexts is InvalidArgument', async () => {
    expect((await api.verifyApiTokens({ plaintexts: [] })).results).toEqual([]);
    await expect(api.verifyApiTokens({ plaintexts: Array.from({ length: 1001 }, () => 'psk_live_x') })).rejects.toMatchObject({ code: 'InvalidArgument' });
  });
});

describe('MintClientApiTokens', () => {
  const svc = { tenantId: randomUUID(), serviceIdentityId: randomUUID() };
  const clientId = `batch-${randomBytes(3).toString('hex')}`;
  const secret = 'a-client-secret-of-some-length';
  const grant = (over: Partial<tokenv1.ClientApiTokenGrant> = {}): tokenv1.ClientApiTokenGrant => ({ clientId, secret, ...svc, envPrefix: 'live', ttlSeconds: 3600, ...over });
  const refused = { minted: undefined, code: GrpcStatus.UNAUTHENTICATED, message: 'invalid client credentials' };

  beforeAll(async () => {
    await api.setClientSecret({ ...svc, clientId, secret });
  });

  test('each right secret mints its own token for the identity it is bound to, which then verifies', async () => {
    const r = await api.mintClientApiTokens({ grants: [grant(), grant({ envPrefix: 'dev', ttlSeconds: 60 })] });
    expect(r.results.map((x) => x.code)).toEqual([GrpcStatus.OK, GrpcStatus.OK]);
    const [a, b] = r.results.map((x) => x.minted);
    expect(a?.plaintext).toMatch(/^psk_live_/);
    expect(b?.plaintext).toMatch(/^psk_dev_/);
    expect(a?.plaintext).not.toBe(b?.plaintext);
    expect(a?.token).toMatchObject({ tenantId: svc.tenantId, identityKind: 'service', identityId: svc.serviceIdentityId, envPrefix: 'live' });
    expect((a?.token?.expireTime?.getTime() ?? 0) - (a?.token?.createTime?.getTime() ?? 0)).toBe(3600_000);
    expect((b?.token?.expireTime?.getTime() ?? 0) - (b?.token?.createTime?.getTime() ?? 0)).toBe(60_000);
    const v = await api.verifyApiTokens({ plaintexts: [a?.plaintext ?? '', b?.plaintext ?? ''] });
    expect(v.results.map((x) => x.token?.id)).toEqual([a?.token?.id, b?.token?.id]);
  });

  test('a wrong secret, an unknown client and a secret bound to another identity are one refusal each, and mint nothing; the rest of the call still mints', async () => {
    const other = randomUUID();
    const r = await api.mintClientApiTokens({
      grants: [
        grant({ secret: 'wrong-secret-of-some-length' }),
        grant({ clientId: 'no-such-client' }),
        grant({ serviceIdentityId: other }),
        grant({ tenantId: randomUUID() }),
        grant({ clientId: 'not a client id!' }),
        grant({ envPrefix: 'prod' }),
        grant(),
      ],
    });
    expect(r.results.slice(0, 5)).toEqual([refused, refused, refused, refused, refused]);
    expect(r.results[5]).toMatchObject({ minted: undefined, code: GrpcStatus.INVALID_ARGUMENT });
    expect(r.results[6]?.minted?.token?.identityId).toBe(svc.serviceIdentityId);
    expect(await api.listApiTokens({ tenantId: svc.tenantId, identityId: other })).toEqual({ tokens: [] });
  });

  test('an empty call answers nothing; more than 1000 grants is InvalidArgument', async () => {
    expect((await api.mintClientApiTokens({ grants: [] })).results).toEqual([]);
    await expect(api.mintClientApiTokens({ grants: Array.from({ length: 1001 }, () => grant()) })).rejects.toMatchObject({ code: 'InvalidArgument' });
  });
});
