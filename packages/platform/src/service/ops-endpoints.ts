import type { GrpcServer } from '../grpc/server';
import type { Logger } from '../log/logger';
import { startMetricsServer } from '../metrics/metrics-server';

/** Options of startOpsEndpoints: the addresses from `commonConfigSchema` (empty = off). */
export interface OpsEndpointsOptions {
  grpc: GrpcServer;
  /** MEZITE_HEALTH_ADDR: plaintext grpc.health.v1 only. */
  healthAddr: string;
  /** MEZITE_METRICS_ADDR: Prometheus `/metrics`. */
  metricsAddr: string;
  log: Logger;
}

/**
 * Starts what operators and Kubernetes reach besides the API: the plaintext health
 * listener (same status as the main server, for kubelet's `grpc:` probe and
 * `bin/mezite-health`) and the metrics endpoint; each only when its address is set.
 * `close()` stops the metrics endpoint (the health listener stops with the gRPC server).
 */
export async function startOpsEndpoints(o: OpsEndpointsOptions): Promise<{ close(): Promise<void> }> {
  const withPort = (addr: string, port: number) => addr.replace(/:\d+$/, `:${port}`);
  if (o.healthAddr) o.log.info('health listening', { addr: withPort(o.healthAddr, await o.grpc.listenHealth(o.healthAddr)) });
  const metrics = o.metricsAddr ? await startMetricsServer({ addr: o.metricsAddr, log: o.log }) : undefined;
  if (metrics) o.log.info('metrics listening', { addr: withPort(o.metricsAddr, metrics.port) });
  return { close: async () => metrics?.close() };
}
