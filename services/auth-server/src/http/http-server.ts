import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { meziteMetrics, traceHttpRequest, type Logger } from '@mezite/platform';
import { InFlightLimit, type InFlightLimitOptions } from './in-flight-limit';
import { TrustedProxies } from './trusted-proxies';
import { introspectionEndpoint, metadata, readRequest, revocationEndpoint, send, tokenEndpoint, type OAuth2Deps, type ReadRequest, type Reply } from './oauth2';
import { MAX_REPORT_BODY, secretScanningEndpoint, type SecretScanningDeps } from './secret-scanning';

/** The discovery document at `/.well-known/mezite`: how a client finds the gRPC API. */
export interface Discovery {
  auth_server: string;
  ca_cert: string;
  ca_pin: string;
}

/** Options of startHttpServer. */
export interface HttpServerOptions {
  addr: string;
  log: Logger;
  discovery: () => Discovery;
  healthy: () => boolean;
  /** The OAuth2 endpoints (seed 000); absent in tests of discovery alone. */
  oauth2?: OAuth2Deps;
  /** Load shedding of the OAuth2 endpoints (not of health and discovery); default off. */
  loadShedding?: InFlightLimitOptions;
  /** Proxies whose X-Forwarded-For names the client (its failure-limiter key and audit source); default none. */
  trustedProxies?: TrustedProxies;
  /** Public revocation of leaked API tokens (`POST /v1/secret-scanning/revoke`); absent: not served. */
  secretScanning?: SecretScanningDeps;
}

/** An endpoint that reads a body: its handler, the largest body it reads, and its request ids. */
interface Route {
  run: (req: IncomingMessage, read: ReadRequest) => Promise<Reply>;
  maxBody?: number;
  newRequestId: () => string;
}

/**
 * The auth-server's HTTP port (8080): discovery for CLIs that are given only an HTTP
 * URL (`PLEXSPHERE_URL`), and health. The OAuth2 endpoints join it with seed 000; they
 * are shed beyond `loadShedding.maxInFlight` (in-flight-limit.ts), health and discovery
 * never are.
 */
export async function startHttpServer(o: HttpServerOptions): Promise<{ server: Server; port: number; limit: InFlightLimit; close(): Promise<void> }> {
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  const limit = new InFlightLimit(o.loadShedding ?? { maxInFlight: 0, retryAfterMs: 1000 });
  const proxies = o.trustedProxies ?? new TrustedProxies([]);
  const routes: Record<string, Route> = {};
  if (o.oauth2) {
    const d: OAuth2Deps = o.oauth2;
    const oauth2 = (fn: (req: IncomingMessage, d: OAuth2Deps, read: ReadRequest) => Promise<Reply>): Route => ({ run: (req, read) => fn(req, d, read), newRequestId: d.newRequestId });
    routes['POST /oauth2/token'] = oauth2(tokenEndpoint);
    routes['POST /oauth2/revoke'] = oauth2(revocationEndpoint);
    routes['POST /oauth2/introspect'] = oauth2(introspectionEndpoint);
    if (o.secretScanning) {
      const s = o.secretScanning;
      routes['POST /v1/secret-scanning/revoke'] = { run: (req, read) => secretScanningEndpoint(req, s, read), maxBody: MAX_REPORT_BODY, newRequestId: d.newRequestId };
    }
  }
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    try {
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'GET' && url.pathname === '/.well-known/mezite') return json(res, 200, o.discovery());
      if (req.method === 'GET' && url.pathname === '/healthz') return json(res, o.healthy() ? 200 : 503, { status: o.healthy() ? 'SERVING' : 'NOT_SERVING' });
      if (o.oauth2 && req.method === 'GET' && url.pathname === '/.well-known/oauth-authorization-server') return send(res, metadata(o.oauth2));
      const route = routes[`${req.method} ${url.pathname}`];
      if (route) {
        const name = `${req.method} ${url.pathname}`;
        // One id for the response header, the span, the log lines and the audit records.
        const requestId = route.newRequestId();
        res.setHeader('x-request-id', requestId);
        // A span, a request scope for log lines, and latency on /metrics per route.
        traceHttpRequest(name, req, res, async () => {
          const read = await readRequest(req, requestId, proxies.clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for']), route.maxBody);
          const release = limit.acquire();
          if (!release) {
            meziteMetrics.refusals.inc({ reason: 'resource_exhausted', method: name });
            return limit.shedReply();
          }
          try {
            return await route.run(req, read);
          } finally {
            release();
          }
        }, requestId).then(
          (r) => send(res, r),
          (err: unknown) => {
            o.log.error('http handler failed', { err, request_id: requestId });
            if (!res.headersSent) json(res, 500, { error: 'server_error', error_description: `internal error (request id ${requestId})` });
          },
        );
        return;
      }
      if (Object.keys(routes).some((k) => k.endsWith(` ${url.pathname}`))) return json(res, 405, { error: 'invalid_request', error_description: 'method not allowed' });
      return json(res, 404, { error: 'not_found' });
    } catch (err) {
      o.log.error('http handler failed', { err });
      return json(res, 500, { error: 'server_error' });
    }
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  const [host, portText] = splitHostPort(o.addr);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(portText), host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : Number(portText);
  return {
    server,
    port,
    limit,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Splits `host:port` (IPv6 in brackets). */
export function splitHostPort(addr: string): [string, string] {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i).replace(/^\[|\]$/g, ''), addr.slice(i + 1)];
}
