import { join } from 'node:path';
import { field, parse } from '@mezite/identity';

/**
 * Configuration keys every service shares. Paths default to the stack's data dir
 * (`MEZITE_DATA_DIR`, default `./.mezite`) so the quickstart needs none; production
 * sets each explicitly.
 */
export function commonConfigSchema(service: string, defaultAddr: string) {
  const dataDir = process.env.MEZITE_DATA_DIR ?? '.mezite';
  const pki = (f: string) => join(dataDir, 'pki', f);
  return {
    addr: field(`MEZITE_${envName(service)}_ADDR`, parse.hostPort, defaultAddr),
    databaseUrl: field('DATABASE_URL', parse.url, undefined, 'a PostgreSQL URL such as postgresql://user@host:5432/mezite'),
    tlsCa: field('MEZITE_TLS_CA', parse.string, pki('ca.crt')),
    tlsCert: field('MEZITE_TLS_CERT', parse.string, pki(`${service}.crt`)),
    tlsKey: field('MEZITE_TLS_KEY', parse.string, pki(`${service}.key`)),
    dbPoolSize: field('MEZITE_DB_POOL_SIZE', parse.int, 10),
    healthAddr: field('MEZITE_HEALTH_ADDR', parse.hostPort, '', 'a plaintext gRPC listener serving only grpc.health.v1 (Kubernetes probes: 0.0.0.0:8086); empty: none'),
    metricsAddr: field('MEZITE_METRICS_ADDR', parse.hostPort, '', 'where /metrics (Prometheus) is served (Kubernetes: 0.0.0.0:9464); empty: not served'),
  };
}

/** `token-service` → `TOKEN_SERVICE`. */
export function envName(service: string): string {
  return service.toUpperCase().replace(/-/g, '_');
}
