import { randomUUID } from 'node:crypto';
import { isAbortError } from 'abort-controller-x';
import { MeziteError } from '@mezite/identity';
import { trace } from '@opentelemetry/api';
import { ServerError, Status, type CallContext, type ServerMiddlewareCall } from 'nice-grpc-common';
import type { Logger } from '../log/logger';
import { meziteMetrics, refusalReason } from '../metrics/metrics';
import { runGeneratorIn, runInRequest } from '../telemetry/request-scope';

/** What every handler finds in its call context. */
export interface RequestContext {
  /** Correlates the caller's request with log lines and audit records. */
  requestId: string;
  /** A logger carrying the request id and method. */
  log: Logger;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Trailer a Mezite server sets on every error it returns, so a client can tell "the
 * server said UNAVAILABLE" (pass its message on) from "could not reach the server".
 */
export const ORIGIN_TRAILER = 'x-mezite-origin';

/**
 * Trailer of a refusal that says when to try again, in milliseconds (a server
 * shedding load: RESOURCE_EXHAUSTED). gRPC's own RetryInfo needs the google.rpc
 * status protos in `grpc-status-details-bin`; a plain number is enough for our
 * clients and readable by anyone's.
 */
export const RETRY_AFTER_TRAILER = 'retry-after-ms';

/**
 * The one server middleware that maps domain errors to gRPC status (STYLE.md §10):
 * a MeziteError becomes its status and message; anything else is logged with its
 * cause and becomes a generic INTERNAL naming only the request id, so no stack trace
 * or driver message ever reaches a caller. It also assigns the request id (taken
 * from `x-request-id` when the caller sent a well-formed one), runs the handler in
 * that request's scope (so every log line it causes names the request), logs each
 * call, and records its latency by method and code, and refusals by reason.
 */
export function requestMiddleware(log: Logger) {
  return async function* middleware<Req, Res>(
    call: ServerMiddlewareCall<Req, Res, RequestContext>,
    context: CallContext,
  ): AsyncGenerator<Res, Res | void, undefined> {
    const sent = context.metadata.get('x-request-id');
    const requestId = sent && REQUEST_ID.test(sent) ? sent : randomUUID();
    const reqLog = log.child({ request_id: requestId, method: call.method.path });
    const started = process.hrtime.bigint();
    context.header.set('x-request-id', requestId);
    trace.getActiveSpan()?.setAttribute('mezite.request_id', requestId);
    const scope = { requestId };
    let code: number = Status.OK;
    try {
      return yield* runGeneratorIn<Res, Res | void>((fn) => runInRequest(scope, fn), call.next(call.request, { ...context, requestId, log: reqLog }));
    } catch (err) {
      if (err instanceof ServerError) {
        code = err.code;
        throw err;
      }
      if (isAbortError(err)) {
        code = Status.CANCELLED;
        throw err;
      }
      context.trailer.set(ORIGIN_TRAILER, 'mezite');
      if (err instanceof MeziteError && err.code !== 'Internal') {
        code = err.grpcStatus;
        if (err.retryAfterMs !== undefined) context.trailer.set(RETRY_AFTER_TRAILER, String(Math.max(0, Math.round(err.retryAfterMs))));
        if (err.code !== 'Unavailable' && err.code !== 'DeadlineExceeded') meziteMetrics.refusals.inc({ reason: refusalReason(err.code), method: call.method.path });
        if (err.cause) reqLog.debug('request refused', { code: err.code, reason: err.message, cause: err.cause });
        throw new ServerError(err.grpcStatus, boundedMessage(err.message));
      }
      code = Status.INTERNAL;
      reqLog.error('unhandled error', { err });
      throw new ServerError(Status.INTERNAL, `internal error (request id ${requestId})`);
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      reqLog.debug('rpc', { code, duration_ms: Math.round(ms * 100) / 100 });
      const [, service = '', method = ''] = call.method.path.split('/');
      meziteMetrics.grpcHandling.observe({ grpc_service: service, grpc_method: method, grpc_code: Status[code] ?? String(code) }, ms / 1000);
    }
  };
}

/** Longest error message a caller is sent; a message that echoes a hostile value is cut. */
export const MAX_ERROR_MESSAGE_LENGTH = 500;

/**
 * `message`, cut to {@link MAX_ERROR_MESSAGE_LENGTH} characters (UTF-16 units) with an
 * ellipsis, never between the two halves of a surrogate pair (an emoji, say), so the
 * result is always well-formed UTF-16 and encodes to valid UTF-8 on the wire.
 */
export function boundedMessage(message: string): string {
  if (message.length <= MAX_ERROR_MESSAGE_LENGTH) return message;
  let end = MAX_ERROR_MESSAGE_LENGTH - 1;
  const last = message.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--; // a high surrogate whose low half would be cut off
  return `${message.slice(0, end)}…`;
}
