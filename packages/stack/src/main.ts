import { relative } from 'node:path';
import { SERVICES, startStack, type ServiceName } from './stack';

/** `MEZITE_<SERVICE>_<KIND>_ADDR` for each service that has one (e.g. MEZITE_AUTH_SERVER_METRICS_ADDR). */
function perService(env: NodeJS.ProcessEnv, kind: 'METRICS' | 'HEALTH'): Partial<Record<ServiceName, string>> {
  const out: Partial<Record<ServiceName, string>> = {};
  for (const s of SERVICES) {
    const v = env[`MEZITE_${s.toUpperCase().replace(/-/g, '_')}_${kind}_ADDR`];
    if (v) out[s] = v;
  }
  return out;
}

/**
 * `pnpm start`: the whole stack on this machine with embedded defaults. Prints where
 * everything listens; Ctrl-C stops it cleanly.
 */
async function main(): Promise<void> {
  const env = process.env;
  const started = Date.now();
  const stack = await startStack({
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
    ...(env.REDIS_URL ? { redisUrl: env.REDIS_URL } : {}),
    ...(env.MEZITE_AUTH_SERVER_ADDR ? { authAddr: env.MEZITE_AUTH_SERVER_ADDR } : {}),
    ...(env.MEZITE_HTTP_ADDR ? { httpAddr: env.MEZITE_HTTP_ADDR } : {}),
    ...(env.MEZITE_TOKEN_SERVICE_ADDR ? { tokenServiceAddr: env.MEZITE_TOKEN_SERVICE_ADDR } : {}),
    ...(env.MEZITE_SSH_CA_ADDR ? { sshCaAddr: env.MEZITE_SSH_CA_ADDR } : {}),
    ...(env.MEZITE_REPLICAS ? { replicas: replicasFrom(env.MEZITE_REPLICAS) } : {}),
    metricsAddrs: perService(env, 'METRICS'),
    healthAddrs: perService(env, 'HEALTH'),
    ...(env.MEZITE_EMBEDDED_PG_PORT ? { embeddedPgPort: Number(env.MEZITE_EMBEDDED_PG_PORT) } : {}),
    ...(env.MEZITE_PUBLIC_HOSTS ? { publicHosts: env.MEZITE_PUBLIC_HOSTS.split(',') } : {}),
    restart: env.MEZITE_STACK_RESTART !== 'false',
    ...(env.MEZITE_DEMO_FIXTURES === 'false' ? { demoFixtures: false } : {}),
    ...(/^(0|false|no|off)$/i.test(env.MEZITE_DEV_OIDC ?? '') ? { devOidc: false } : {}),
    ...(env.MEZITE_DEV_OIDC_ADDR ? { devOidcAddr: env.MEZITE_DEV_OIDC_ADDR } : {}),
    log: (l) => process.stdout.write(`  ${l}\n`),
  });
  const rel = relative(process.cwd(), stack.dataDir) || '.';
  const db = stack.embeddedPostgres ? `embedded PostgreSQL (${rel}/postgres)` : 'PostgreSQL from DATABASE_URL';
  const port = (a: string) => a.slice(a.lastIndexOf(':') + 1);
  const all = (l: keyof typeof stack.replicaAddrs, f: (a: string) => string) => stack.replicaAddrs[l].map(f).join(', ');
  process.stdout.write(
    [
      `Mezite is running (${((Date.now() - started) / 1000).toFixed(1)}s; data in ${rel}${stack.replicas > 1 ? `; ${stack.replicas} replicas of each service` : ''})`,
      `  auth-server     gRPC ${all('auth-server', (a) => `localhost:${port(a)}`)} (TLS)   HTTP ${all('http', (a) => `http://localhost:${port(a)}`)}`,
      `  token-service   ${all('token-service', (a) => a)} (mTLS, internal)`,
      `  ssh-ca          ${all('ssh-ca', (a) => a)} (mTLS, internal)`,
      `  storage         ${db}; cache: ${stack.redisUrl ? 'Redis from REDIS_URL' : 'in memory'}`,
      stack.addrs['dev-oidc']
        ? `  dev-oidc        ${stack.oidcIssuer} (development sign-in for mezctl login: demo@mezite.dev / demo)`
        : `  sign-in         ${stack.oidcIssuer ? `${stack.oidcIssuer} (MEZITE_OIDC_ISSUER)` : 'off (MEZITE_DEV_OIDC=false and no MEZITE_OIDC_ISSUER)'}`,
      `  logs            ${rel}/logs/`,
      `Admin identity: ${rel}/admin-identity.json (mezctl on this machine uses it by default)`,
      `Try:  export PATH="$PWD/bin:$PATH"; mezctl bots ls`,
      `Press Ctrl-C to stop.`,
      '',
    ].join('\n'),
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping Mezite…\n`);
    stack.stop().then(
      () => {
        process.stdout.write('Stopped.\n');
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`mezite: stop failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  // SIGUSR2 starts any service that is not running (operators, and the tests that stop one).
  process.on('SIGUSR2', () => {
    stack.startStopped().catch((err: unknown) => process.stderr.write(`mezite: restart failed: ${(err as Error).message}\n`));
  });
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

/** `MEZITE_REPLICAS`: copies of each service (1–9). */
function replicasFrom(raw: string): number {
  const n = Number(raw);
  if (!/^[1-9]$/.test(raw.trim()) || !Number.isInteger(n)) throw new Error(`MEZITE_REPLICAS: expected a number from 1 to 9, got "${raw}"`);
  return n;
}

main().catch((err: unknown) => {
  process.stderr.write(`mezite: ${(err as Error).message}\n`);
  process.exit(1);
});
