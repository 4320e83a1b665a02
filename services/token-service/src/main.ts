import '@mezite/platform/instrument'; // first: hooks pg and ioredis for tracing before anything loads them (only when OTEL_* turn tracing on)
import { join } from 'node:path';
import { systemClock } from '@mezite/identity';
import { createGrpcServer, createLogger, internalServerCredentials, MemoryCache, onShutdown, pgAdvisoryLock, pgLockKey, readTlsFiles, RedisCache, RetentionJob, runMigrations, startOpsEndpoints, startTracing, type Cache } from '@mezite/platform';
import { tokenv1 } from '@mezite/proto';
import { loadTokenServiceConfig } from './config';
import { ApiTokenCache } from './domain/api-token-cache';
import { ApiTokenManager } from './domain/api-token-manager';
import { ApiTokenVerifier } from './domain/api-token-verifier';
import { ClientSecretManager } from './domain/client-secret-manager';
import { LastUseRecorder } from './domain/last-use-recorder';
import { stampUnversionedRows } from './domain/pepper-stamp';
import { apiTokenHandlers } from './grpc/api-token-handlers';
import { PrismaApiTokenStore } from './store/prisma-api-token-store';
import { PrismaClientSecretStore } from './store/prisma-client-secret-store';
import { createPrismaClient, pgPoolOf } from './store/prisma';

const SERVICE = 'token-service';

/** Wires token-service: config, migrations, stores, cache, gRPC on the internal mTLS port. */
export async function main(): Promise<void> {
  const log = createLogger({ service: SERVICE });
  const tracing = startTracing({ service: SERVICE, log });
  const cfg = loadTokenServiceConfig();
  await runMigrations({ databaseUrl: cfg.databaseUrl, schema: 'token', dir: join(__dirname, '..', 'migrations'), log: (m) => log.info(m) });
  const prisma = createPrismaClient(cfg.databaseUrl, cfg.dbPoolSize);
  // Without REDIS_URL the cache lives in this process: correct only while token-service runs as one replica.
  const cache: Cache = cfg.redisUrl ? new RedisCache({ url: cfg.redisUrl, keyPrefix: 'token:', logger: log }) : new MemoryCache({ logger: log });
  log.info('cache', { backend: cfg.redisUrl ? 'redis' : 'memory' });

  const apiTokenStore = new PrismaApiTokenStore(prisma);
  const tokenCache = new ApiTokenCache(cache);
  const lastUse = new LastUseRecorder({ store: apiTokenStore, logger: log });
  const tokens = new ApiTokenManager({
    store: apiTokenStore,
    cache: tokenCache,
    clock: systemClock,
    peppers: cfg.peppers,
    logger: log,
    rotationOverlapMs: cfg.rotationOverlapMs,
    defaultTtlMs: cfg.apiTokenTtlMs,
    verificationLeaseMs: cfg.apiTokenLeaseMs,
    usage: lastUse,
  });
  const verifier = new ApiTokenVerifier({ store: apiTokenStore, cache: tokenCache, clock: systemClock, peppers: cfg.peppers, logger: log, lastUse });
  const clientSecretStore = new PrismaClientSecretStore(prisma);
  const clientSecrets = new ClientSecretManager({ store: clientSecretStore, clock: systemClock, peppers: cfg.peppers, logger: log });
  log.info('peppers', { current: cfg.peppers.current.id, previous: cfg.peppers.previous.map((k) => k.id) });
  await stampUnversionedRows({ peppers: cfg.peppers, stores: { api_tokens: apiTokenStore, client_secrets: clientSecretStore }, log });
  await verifier.start();
  lastUse.start();

  const grpc = createGrpcServer({ name: 'mezite.token.v1.ApiTokenService', logger: log, allowedCallers: cfg.allowedCallers });
  grpc.services.add(tokenv1.ApiTokenServiceDefinition, apiTokenHandlers({ tokens, verifier, clientSecrets, lastUse, verificationLeaseMs: cfg.apiTokenLeaseMs }));
  const tls = readTlsFiles({ ca: cfg.tlsCa, cert: cfg.tlsCert, key: cfg.tlsKey });
  const port = await grpc.listen(cfg.addr, internalServerCredentials(tls));
  log.info('listening', { addr: cfg.addr.replace(/:\d+$/, `:${port}`) });
  const ops = await startOpsEndpoints({ grpc, healthAddr: cfg.healthAddr, metricsAddr: cfg.metricsAddr, log });
  // API tokens that stopped working MEZITE_RETENTION_MAX_AGE ago are deleted (and usage
  // rows last seen that long ago), one replica
  // at a time. Client secrets need nothing: one row per client, replaced in place,
  // deleted with the service identity; they have no expiry.
  const retention = cfg.retentionMaxAgeMs > 0
    ? new RetentionJob({ tasks: [{ name: 'token.api_tokens', deleteExpired: (before, limit) => apiTokenStore.deleteExpired(before, limit) }, { name: 'token.api_token_usage', deleteExpired: (before, limit) => apiTokenStore.deleteUsageBefore(before, limit) }], lock: pgAdvisoryLock(pgPoolOf(prisma), pgLockKey('mezite token-service retention')), clock: systemClock, log, maxAgeMs: cfg.retentionMaxAgeMs }).start(cfg.retentionIntervalMs)
    : undefined;
  if (!retention) log.warn('retention is off (MEZITE_RETENTION_MAX_AGE=off): expired API tokens are never deleted');

  onShutdown(log, async () => {
    await retention?.stop();
    await grpc.shutdown();
    await verifier.close();
    await lastUse.close(); // writes the last uses still pending
    await cache.close();
    await prisma.$disconnect();
    await ops.close();
    await tracing.shutdown();
  });
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${SERVICE}: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
