import { join } from 'node:path';
import { systemClock } from '@mezite/identity';
import { createGrpcServer, createLogger, internalServerCredentials, onShutdown, readTlsFiles, runMigrations } from '@mezite/platform';
import { tokenv1 } from '@mezite/proto';
import { loadTokenServiceConfig } from './config';
import { JoinTokenManager } from './domain/join-token-manager';
import { joinTokenHandlers } from './grpc/join-token-handlers';
import { PrismaJoinTokenStore } from './store/prisma-join-token-store';
import { createPrismaClient } from './store/prisma';

const SERVICE = 'token-service';

/** Wires token-service: config, migrations, stores, gRPC on the internal mTLS port. */
export async function main(): Promise<void> {
  const log = createLogger({ service: SERVICE });
  const cfg = loadTokenServiceConfig();
  await runMigrations({ databaseUrl: cfg.databaseUrl, schema: 'token', dir: join(__dirname, '..', 'migrations'), log: (m) => log.info(m) });
  const prisma = createPrismaClient(cfg.databaseUrl, cfg.dbPoolSize);
  const joinTokens = new JoinTokenManager({ store: new PrismaJoinTokenStore(prisma), clock: systemClock, pepper: cfg.pepper });

  const grpc = createGrpcServer({ name: 'mezite.token.v1.JoinTokenService', logger: log });
  grpc.services.add(tokenv1.JoinTokenServiceDefinition, joinTokenHandlers(joinTokens));
  const tls = readTlsFiles({ ca: cfg.tlsCa, cert: cfg.tlsCert, key: cfg.tlsKey });
  const port = await grpc.listen(cfg.addr, internalServerCredentials(tls));
  log.info('listening', { addr: cfg.addr.replace(/:\d+$/, `:${port}`) });

  onShutdown(log, async () => {
    await grpc.shutdown();
    await prisma.$disconnect();
  });
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${SERVICE}: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
