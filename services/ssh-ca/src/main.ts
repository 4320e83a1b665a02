import '@mezite/platform/instrument'; // first: hooks pg and ioredis for tracing before anything loads them (only when OTEL_* turn tracing on)
import { join } from 'node:path';
import { systemClock } from '@mezite/identity';
import { createGrpcServer, createLogger, internalServerCredentials, onShutdown, readTlsFiles, runMigrations, startOpsEndpoints, startTracing } from '@mezite/platform';
import { sshcav1 } from '@mezite/proto';
import { loadSshCaConfig } from './config';
import { CaManager } from './domain/ca-manager';
import { CertificateSigner } from './domain/certificate-signer';
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
  const cas = new CaManager({ store: new PrismaCertAuthorityStore(prisma), clock: systemClock, kek: cfg.kek, algorithm: cfg.algorithm, issued });
  for (const ca of await cas.ensure()) log.info('certificate authority ready', { type: ca.type, fingerprint: ca.fingerprint, algorithm: ca.algorithm });
  const signer = new CertificateSigner({ store: issued, cas, kek: cfg.kek, clock: systemClock, logger: log });
  await signer.load(); // a wrong MEZITE_CA_KEK fails here, not at the first request

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
