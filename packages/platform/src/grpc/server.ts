import { ServerCredentials } from '@grpc/grpc-js';
import { createServer, type Server, type ServerAddBuilder } from 'nice-grpc';
import { HealthDefinition, HealthServiceImpl, HealthState } from 'nice-grpc-server-health';
import type { Logger } from '../log/logger';
import { requestMiddleware, type RequestContext } from './server-middleware';
import { tracingServerMiddleware } from './tracing-middleware';
import { requireCallers } from './caller-identity';
import { decodeGuardMiddleware, guardDecoding } from './decode-guard';
import { transportRefusals } from './transport-refusals';

/** Options of createGrpcServer. */
export interface GrpcServerOptions {
  /** The service name reported by grpc.health.v1 and in logs. */
  name: string;
  logger: Logger;
  /** Largest request accepted; larger ones get RESOURCE_EXHAUSTED. Default 1 MiB. */
  maxMessageBytes?: number;
  /**
   * On an mTLS port: the client certificate CNs (service names) allowed to call; others
   * get PERMISSION_DENIED (health checks excepted). Unset: any certificate of the CA.
   */
  allowedCallers?: readonly string[];
}

/** A gRPC server with health, request ids, error mapping and graceful shutdown. */
export interface GrpcServer {
  /** Register services here (before listen): they get tracing, request ids, metrics and error mapping. */
  services: ServerAddBuilder<RequestContext>;
  /** The underlying server, without Mezite's middleware (health lives here). */
  server: Server;
  /** Set the overall and per-service health reported by grpc.health.v1. */
  health: HealthState;
  /**
   * Binds `host:port` (port 0 picks one) and returns the bound port. Health reports
   * SERVING from then on, unless `deferServing`: then only after `serving()`.
   */
  listen(address: string, credentials: ServerCredentials, opts?: { deferServing?: boolean }): Promise<number>;
  /**
   * Binds a second, plaintext listener at `address` that serves only grpc.health.v1,
   * with the same status as the main server, so Kubernetes' native `grpc:` probe and
   * `mezite-health` work while the main port requires TLS or mTLS. Returns the port.
   * It reveals nothing but SERVING or NOT_SERVING.
   */
  listenHealth(address: string): Promise<number>;
  /** Reports SERVING (after a deferred start-up step finished). */
  serving(): void;
  /** Reports NOT_SERVING, waits for calls in flight (at most `graceMs`), then stops. */
  shutdown(graceMs?: number): Promise<void>;
}

/** Creates a Mezite gRPC server. Every service uses this one shape. */
export function createGrpcServer(opts: GrpcServerOptions): GrpcServer {
  const max = opts.maxMessageBytes ?? 1024 * 1024;
  const base = createServer({
    // transportRefusals must come first: it has to receive grpc-js's base call (see its TSDoc).
    interceptors: [transportRefusals(), ...(opts.allowedCallers ? [requireCallers(opts.allowedCallers)] : [])],
    'grpc.max_receive_message_length': max,
    'grpc.max_send_message_length': 16 * 1024 * 1024,
    'grpc.keepalive_permit_without_calls': 1,
  });
  const health = HealthState();
  base.add(HealthDefinition, HealthServiceImpl(health));
  const server = base;
  let healthServer: Server | undefined;
  return {
    services: guardedBuilder(base.with(tracingServerMiddleware()).with(requestMiddleware(opts.logger)).with(decodeGuardMiddleware())),
    server,
    health,
    async listen(address, credentials, o = {}) {
      health.setStatus('unhealthy');
      const port = await server.listen(address, credentials);
      if (!o.deferServing) this.serving();
      return port;
    },
    async listenHealth(address) {
      if (healthServer) throw new Error('listenHealth: the health listener is already bound');
      healthServer = createServer({ interceptors: [transportRefusals()] });
      healthServer.add(HealthDefinition, HealthServiceImpl(health));
      return healthServer.listen(address, ServerCredentials.createInsecure());
    },
    serving() {
      health.setStatus('healthy');
      health.setStatus('healthy', opts.name);
    },
    async shutdown(graceMs = 5000) {
      health.setStatus('unhealthy');
      health.setStatus('unhealthy', opts.name);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        server.shutdown(),
        new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, graceMs);
        }),
      ]);
      if (timer) clearTimeout(timer);
      healthServer?.forceShutdown();
    },
  };
}

/** A builder whose services' request decoders never throw (see decode-guard.ts), however many middlewares are added. */
function guardedBuilder<C extends object>(b: ServerAddBuilder<C>): ServerAddBuilder<C> {
  return {
    with: (middleware) => guardedBuilder(b.with(middleware)),
    add: (definition, implementation) => b.add(guardDecoding(definition), implementation),
  } as ServerAddBuilder<C>;
}
