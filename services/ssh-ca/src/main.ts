import '@mezite/platform/instrument'; // first: hooks pg and ioredis for tracing before anything loads them (only when OTEL_* turn tracing on)
import { join } from 'node:path';
import { systemClock } from '@mezite/identity';
import { createGrpcServer, createLogger, internalServerCredentials, onShutdown, readTlsFiles, runMigrations, startOpsEndpoints, startTracing } from '@mezite/platform';
import { sshcav1 } from '@mezite/proto';
import { loadSshCaConfig } from './config';
import { startCertAuthorities } from './domain/ca-startup';
import { KrlBuilder } from './domain/krl-builder';
import { sshCaHandlers } from './grpc/ssh-ca-handlers';
import { PrismaCertAuthorityStore } from './store/prisma-cert-authority-store';
import { PrismaIssuedCertificateStore } from './store/prisma-issued-certificate-store';
import { createPrismaClient } from './store/prisma';

const SERVICE = 'ssh-ca';

/** Wires ssh-ca: config, migrations, the CAs (made on first start), the signer, gRPC on the internal mTLS port. */
export async function main(): Promise<void> {
  const log = createLogger({ service: SERVICE });
  const tracing = startTracing({ service: SERVICE, log });
  const cfg = loadSshCaConfig();
  await runMigrations({ databaseUrl: cfg.databaseUrl, schema: 'sshca', dir: join(__dirname, '..', 'migrations'), log: (m) => log.info(m) });
  const prisma = createPrismaClient(cfg.databaseUrl, cfg.dbPoolSize);
  const issued = new PrismaIssuedCertificateStore(prisma);
  // Re-wraps CA keys under the current KEK, then makes or opens the CAs; a KEK that is
  // missing or wrong stops the start here (docs/OPERATIONS.md, "Rotate").
  const { cas, signer } = await startCertAuthorities({ store: new PrismaCertAuthorityStore(prisma), issued, keks: cfg.keks, algorithm: cfg.algorithm, clock: systemClock, log });

  const grpc = createGrpcServer({ name: 'mezite.sshca.v1.SshCaService', logger: log, allowedCallers: cfg.allowedCallers });
  grpc.services.add(sshcav1.SshCaServiceDefinition, sshCaHandlers({ cas, signer, krl: new KrlBuilder({ issued, cas, clock: systemClock }), issued }));
  const tls = readTlsFiles({ ca: cfg.tlsCa, cert: cfg.tlsCert, key: cfg.tlsKey });
  const port = await grpc.listen(cfg.addr, internalServerCredentials(tls));
  log.info('listening', { addr: cfg.addr.replace(/:\d+$/, `:${port}`) });
  const ops = await startOpsEndpoints({ grpc, healthAddr: cfg.healthAddr, metricsAddr: cfg.metricsAddr, log });

  onShutdown(log, async () => {
    await grpc.shutdown();
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
