import { createServer } from 'node:http';
import type { Logger } from '../log/logger';
import { metricsRegistry } from './metrics';

let defaultsCollected = false;

/**
 * Serves the process's metrics in Prometheus text format on `GET /metrics` at `addr`
 * (`host:port`, port 0 picks one), with Node's process metrics (CPU, memory, event
 * loop lag, GC). Plain HTTP and nothing else on that port: it belongs on a network
 * only Prometheus reaches (in Kubernetes, 0.0.0.0:9464 behind a NetworkPolicy).
 */
export async function startMetricsServer(o: { addr: string; log: Logger }): Promise<{ port: number; close(): Promise<void> }> {
  const registry = metricsRegistry();
  if (!defaultsCollected) {
    const { collectDefaultMetrics } = require('prom-client') as typeof import('prom-client');
    collectDefaultMetrics({ register: registry });
    defaultsCollected = true;
  }
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err: unknown) => {
        o.log.error('could not collect metrics', { err });
        res.writeHead(500, { 'content-type': 'text/plain' }).end('could not collect metrics\n');
      },
    );
  });
  server.requestTimeout = 10_000;
  const i = o.addr.lastIndexOf(':');
  const host = o.addr.slice(0, i).replace(/^\[|\]$/g, '');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(o.addr.slice(i + 1)), host, () => resolve());
  });
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
