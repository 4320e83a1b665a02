import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './kustomize';

/** The three services: their gRPC port and the PostgreSQL schema their main.ts migrates. */
export const SERVICES = [
  { name: 'auth-server', grpcPort: 3025, schema: 'auth' },
  { name: 'token-service', grpcPort: 3026, schema: 'token' },
  { name: 'ssh-ca', grpcPort: 3027, schema: 'sshca' },
] as const;
export type ServiceName = (typeof SERVICES)[number]['name'];

/** The plaintext grpc.health.v1 listener (kubelet's grpc probe) and /metrics, in every pod. */
export const HEALTH_PORT = 8086;
export const METRICS_PORT = 9464;

/** The overlays, their namespace, and the Secrets they read that something outside the overlay makes. */
export const OVERLAYS = {
  dev: { dir: 'deploy/overlays/dev', namespace: 'mezite' },
  production: { dir: 'deploy/overlays/production', namespace: 'mezite' },
} as const;

/**
 * Secrets deploy/scripts/make-secrets.mjs prints (keys: the peppers and the KEK;
 * database, with --database: each service's own role's URL; tls: the internal certificates).
 */
export const MAKE_SECRETS = {
  keys: { 'mezite-token-pepper': ['pepper'], 'mezite-session-pepper': ['pepper'], 'mezite-ca-kek': ['kek'], 'mezite-audit-key': ['key'], 'mezite-audit-signing-key': ['key'] },
  database: { 'mezite-database-auth': ['url'], 'mezite-database-token': ['url'], 'mezite-database-sshca': ['url'] },
  tls: { 'auth-server-tls': ['ca.crt', 'tls.crt', 'tls.key'], 'token-service-tls': ['ca.crt', 'tls.crt', 'tls.key'], 'ssh-ca-tls': ['ca.crt', 'tls.crt', 'tls.key'] },
} as const;

/** Secrets the operator makes for production from the external Redis. */
export const OPERATOR_SECRETS = { 'mezite-redis': ['url'] } as const;

/** What each overlay expects to exist besides what it renders (docs/OPERATIONS.md names each). */
export const EXTERNAL_SECRETS: Record<keyof typeof OVERLAYS, Record<string, readonly string[]>> = {
  dev: { ...MAKE_SECRETS.keys, ...MAKE_SECRETS.database, ...MAKE_SECRETS.tls },
  production: { ...MAKE_SECRETS.keys, ...MAKE_SECRETS.database, ...OPERATOR_SECRETS },
};

/**
 * Who may read each Secret: a service reads its own and no other's (the migration Job's
 * container for a service counts as that service); the dev PostgreSQL its superuser
 * password. A Secret not listed here may be read by nobody: a new one is added here.
 */
export const SECRET_READERS: Record<string, readonly string[]> = {
  'mezite-database-auth': ['auth-server'],
  'mezite-session-pepper': ['auth-server'],
  'mezite-audit-key': ['auth-server'],
  'mezite-audit-signing-key': ['auth-server'],
  'auth-server-tls': ['auth-server'],
  'mezite-database-token': ['token-service'],
  'mezite-token-pepper': ['token-service'],
  'mezite-redis': ['token-service', 'auth-server'],
  'token-service-tls': ['token-service'],
  'mezite-database-sshca': ['ssh-ca'],
  'mezite-ca-kek': ['ssh-ca'],
  'ssh-ca-tls': ['ssh-ca'],
  'postgres-credentials': ['postgres'],
};

/** TypeScript sources of a directory, tests excluded. */
export function sources(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (name === 'node_modules' || name === 'dist' || name === 'generated') continue;
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(p);
    }
  };
  walk(join(repoRoot, dir));
  return out;
}

/**
 * The configuration keys a service reads, from its config schema and the shared one:
 * every `MEZITE_*` name in its sources and packages/platform's, and the
 * `MEZITE_<SERVICE>_ADDR` commonConfigSchema derives. `required` are fields without a
 * default (`field('X', parse.y)` or `field('X', parse.y, undefined, …)`).
 */
export function serviceConfig(service: ServiceName): { known: Set<string>; required: Set<string> } {
  const known = new Set<string>([`MEZITE_${service.toUpperCase().replace(/-/g, '_')}_ADDR`]);
  const required = new Set<string>();
  for (const file of [...sources(`services/${service}/src`), ...sources('packages/platform/src'), ...sources('packages/identity/src')]) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\b(MEZITE_[A-Z0-9_]*[A-Z0-9])\b/g)) known.add(m[1] as string);
    if (file.endsWith('config.ts')) {
      for (const m of text.matchAll(/field\(\s*'([A-Z][A-Z0-9_]*)',\s*[\w.]+\s*(?:\)|,\s*undefined\b)/g)) {
        known.add(m[1] as string);
        required.add(m[1] as string);
      }
      for (const m of text.matchAll(/field\(\s*'([A-Z][A-Z0-9_]*)'/g)) known.add(m[1] as string);
    }
  }
  return { known, required };
}
