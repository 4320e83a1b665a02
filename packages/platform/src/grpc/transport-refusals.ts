import { ServerInterceptingCall, status, type ServerInterceptingCallInterface, type ServerInterceptor } from '@grpc/grpc-js';

type PartialStatus = Parameters<ServerInterceptingCallInterface['sendStatus']>[0];

/**
 * The statuses grpc-js itself sends as INTERNAL for a request that is the caller's
 * mistake, matched by grpc-js's exact wording (server-interceptors.ts of 1.14), with the
 * message sent instead. The originals either echo client input (`Invalid grpc-timeout
 * value "…"`) or, with GRPC_NODE_DEBUG_SEND_ERROR_DETAILS, a parser's error text.
 */
const REFUSALS: ReadonlyArray<{ match: RegExp; details: string }> = [
  { match: /^Failed to decompress message$/, details: 'the request message is not valid data of its grpc-encoding (corrupt gzip or deflate)' },
  { match: /^Invalid grpc-timeout value /, details: 'malformed grpc-timeout header (expected 1 to 8 digits and a unit H, M, S, m, u or n)' },
  { match: /^Error deserializing request(?::|$)/, details: 'malformed request message' },
];

/** The status to send instead of one grpc-js sent on its own, or the status itself. */
export function refusalFor(s: PartialStatus): PartialStatus {
  if (s.code !== status.INTERNAL) return s;
  const r = REFUSALS.find(({ match }) => match.test(s.details ?? ''));
  return r ? { ...s, code: status.INVALID_ARGUMENT, details: r.details } : s;
}

/**
 * A grpc-js server interceptor that turns grpc-js's own INTERNAL answers to malformed
 * requests — a corrupt gzip/deflate payload, a malformed `grpc-timeout` header, bytes
 * that do not decode as the message — into INVALID_ARGUMENT with a fixed message.
 * Everything else (RESOURCE_EXHAUSTED for a gzip bomb, UNIMPLEMENTED for an unknown
 * encoding, DEADLINE_EXCEEDED, statuses of handlers) passes unchanged.
 *
 * grpc-js sends these statuses from its base call (`BaseServerInterceptingCall`) by
 * calling `this.sendStatus(…)`, which no interceptor's responder sees. So this
 * interceptor must be the first one (it then receives the base call) and wraps that
 * call's public `sendStatus` method on the instance; statuses coming down the
 * interceptor chain (handlers, grpc-js's handler glue) are marked and never rewritten.
 * This relies on grpc-js internals (see docs/DECISIONS.md, "grpc-js's own refusals");
 * `transport-refusals.test.ts` sends the raw frames, so an upgrade that changes them fails
 * there.
 */
export function transportRefusals(): ServerInterceptor {
  return (_method, call) => {
    const fromChain = new WeakSet<object>();
    const send = call.sendStatus.bind(call);
    call.sendStatus = (s) => send(fromChain.has(s) ? s : refusalFor(s));
    return new ServerInterceptingCall(call, {
      sendStatus: (s, next) => {
        fromChain.add(s);
        next(s);
      },
    });
  };
}
