import { randomUUID } from 'node:crypto';
import { codeFromGrpcStatus, MeziteError } from '@mezite/identity';
import { isAbortError } from 'abort-controller-x';
import { ClientError, Metadata, Status, type CallOptions, type ClientMiddlewareCall } from 'nice-grpc-common';
import { currentRequest } from '../telemetry/request-scope';
import { ORIGIN_TRAILER, RETRY_AFTER_TRAILER } from './server-middleware';
import { tracingClientMiddleware } from './tracing-middleware';
import { deadlineMiddleware, type DeadlineOptions } from 'nice-grpc-client-middleware-deadline';
import { createChannel, createClientFactory, type ChannelCredentials, type Client, type CompatServiceDefinition } from 'nice-grpc';

/** Per-call options every Mezite client accepts. */
export interface MeziteCallOptions extends DeadlineOptions {
  /**
   * Forwarded as `x-request-id` so one request is traceable across services; default
   * the id of the request being handled, if any.
   */
  requestId?: string;
}

/**
 * Maps a gRPC failure to a domain error, once, on the client side (STYLE.md §10).
 * A dead or unreachable peer becomes Unavailable naming the peer, so callers show
 * "token-service is unavailable" instead of a transport message.
 */
export function errorMappingMiddleware(peerName: string) {
  return async function* middleware<Req, Res>(call: ClientMiddlewareCall<Req, Res, MeziteCallOptions>, options: CallOptions & MeziteCallOptions) {
    const { requestId: given, ...rest } = options;
    // A call made while handling a request carries that request's id unless told otherwise.
    const requestId = given ?? currentRequest()?.requestId;
    if (requestId && !rest.metadata?.has('x-request-id')) {
      rest.metadata = Metadata(rest.metadata);
      rest.metadata.set('x-request-id', requestId);
    }
    let fromServer = false;
    let retryAfterMs: number | undefined;
    const onTrailer = rest.onTrailer;
    rest.onTrailer = (t) => {
      fromServer = t.get(ORIGIN_TRAILER) === 'mezite';
      const after = Number(t.get(RETRY_AFTER_TRAILER) ?? NaN);
      // A hint, bounded: a server cannot park a client for more than 5 minutes.
      retryAfterMs = Number.isFinite(after) && after >= 0 ? Math.min(after, 300_000) : undefined;
      onTrailer?.(t);
    };
    try {
      return yield* call.next(call.request, rest);
    } catch (err) {
      if (err instanceof ClientError) {
        if (fromServer) throw new MeziteError(codeFromGrpcStatus(err.code), err.details, { cause: err, retryAfterMs });
        if (err.code === Status.UNAVAILABLE) {
          throw new MeziteError('Unavailable', `${peerName} is unavailable: ${transportReason(err.details)}`, { cause: err });
        }
        if (err.code === Status.DEADLINE_EXCEEDED) {
          throw new MeziteError('Unavailable', `${peerName} did not answer in time`, { cause: err });
        }
        throw new MeziteError(codeFromGrpcStatus(err.code), err.details, { cause: err });
      }
      if (isAbortError(err)) throw err;
      throw err;
    }
  };
}

const TRANSPORT_REASONS: Array<[RegExp, string]> = [
  [/ECONNREFUSED/, 'connection refused'],
  [/ETIMEDOUT|timed? ?out/i, 'connection timed out'],
  [/ENOTFOUND|EAI_AGAIN|Name resolution failed/i, 'name not found'],
  [/EHOSTUNREACH|ENETUNREACH/, 'host unreachable'],
  [/ECONNRESET|socket hang up/i, 'connection reset'],
  [/certificate|self[- ]signed|SSL|TLS/i, 'TLS handshake failed (wrong CA or server name?)'],
];

/** A short reason for a transport failure, instead of grpc-js's paragraph. */
function transportReason(details: string): string {
  for (const [re, reason] of TRANSPORT_REASONS) if (re.test(details)) return reason;
  return details.split('. ')[0] ?? details;
}

/** Options of createMeziteClient. */
export interface ClientOptions {
  /** `host:port` of the peer. */
  address: string;
  credentials: ChannelCredentials;
  /** The peer's name in error messages (`token-service`). */
  peerName: string;
  /** Deadline of every call unless the call sets its own. Default 10 s. */
  defaultDeadlineMs?: number;
  /** Extra grpc-js channel options (e.g. `grpc.ssl_target_name_override`). */
  channelOptions?: Record<string, string | number>;
  /**
   * Spread calls over every address the target names (a list target
   * `ipv4:10.0.0.1:3026,10.0.0.2:3026`, or a `dns:///` name with several records)
   * round robin, instead of grpc-js's default of one connection to the first that
   * answers. A replica that goes away is skipped until it is back.
   */
  roundRobin?: boolean;
}

/** grpc-js's default service config for round-robin balancing. */
const ROUND_ROBIN_SERVICE_CONFIG = JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] });

/** A typed client of service `S` as `createMeziteClients` makes it. */
export type MeziteClient<S extends CompatServiceDefinition> = Client<S, MeziteCallOptions>;

/** Typed clients sharing one channel; calls fail with MeziteErrors and never hang past a deadline. */
export interface MeziteClients {
  /** A client of `definition` on the shared channel. */
  create<S extends CompatServiceDefinition>(definition: S): Client<S, MeziteCallOptions>;
  /** Closes the channel. */
  close(): void;
}

/** Opens one channel to a peer and returns a factory of typed clients on it. */
export function createMeziteClients(opts: ClientOptions): MeziteClients {
  const channel = createChannel(opts.address, opts.credentials, {
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': 2000,
    ...(opts.roundRobin ? { 'grpc.service_config': ROUND_ROBIN_SERVICE_CONFIG } : {}),
    ...opts.channelOptions,
  });
  const deadline = opts.defaultDeadlineMs ?? 10_000;
  const factory = createClientFactory().use(errorMappingMiddleware(opts.peerName)).use(tracingClientMiddleware(opts.peerName)).use(deadlineMiddleware);
  return {
    create: <S extends CompatServiceDefinition>(definition: S) => factory.create(definition, channel, { '*': { deadline } }) as unknown as Client<S, MeziteCallOptions>,
    close: () => channel.close(),
  };
}

/** A typed client on a channel of its own. */
export function createMeziteClient<S extends CompatServiceDefinition>(definition: S, opts: ClientOptions): { client: Client<S, MeziteCallOptions>; close(): void } {
  const clients = createMeziteClients(opts);
  return { client: clients.create(definition), close: clients.close };
}

/** A fresh request id. */
export function newRequestId(): string {
  return randomUUID();
}
