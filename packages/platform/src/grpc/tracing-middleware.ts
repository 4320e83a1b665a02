import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context as otelContext, propagation, trace, type Context, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import { isAbortError } from 'abort-controller-x';
import { ClientError, Metadata, ServerError, Status, type CallContext, type CallOptions, type ClientMiddlewareCall, type ServerMiddlewareCall } from 'nice-grpc-common';
import { meziteTracer } from '../telemetry/tracing';
import { runGeneratorIn } from '../telemetry/request-scope';

/** Reads W3C trace context (`traceparent`, `tracestate`) from gRPC metadata. */
const metadataGetter: TextMapGetter<Metadata> = {
  get: (carrier, key) => {
    const v = carrier.get(key);
    return typeof v === 'string' ? v : undefined;
  },
  keys: (carrier) => [...carrier].map(([k]) => k),
};
/** Writes W3C trace context into gRPC metadata. */
const metadataSetter: TextMapSetter<Metadata> = { set: (carrier, key, value) => carrier.set(key, value) };

/** gRPC codes that are the server's fault (OpenTelemetry's RPC conventions); the rest are the caller's. */
const SERVER_FAULTS = new Set<number>([Status.UNKNOWN, Status.DEADLINE_EXCEEDED, Status.UNIMPLEMENTED, Status.INTERNAL, Status.UNAVAILABLE, Status.DATA_LOSS]);

/** `/pkg.Service/Method` → span name and the `rpc.*` attributes. */
function rpcNames(path: string): { name: string; service: string; method: string } {
  const name = path.replace(/^\//, '');
  const i = name.lastIndexOf('/');
  return { name, service: name.slice(0, i), method: name.slice(i + 1) };
}

/**
 * Server middleware (outermost): continues the caller's trace from the W3C
 * `traceparent` metadata, or starts one, with a SERVER span per call, and runs the
 * handler inside it, so its outgoing calls, queries and log lines carry the trace.
 * A no-op span (nothing recorded, nothing propagated) while tracing is off. Spans
 * carry the method and status code, never request data or error messages.
 */
export function tracingServerMiddleware() {
  return async function* middleware<Req, Res, Ext>(call: ServerMiddlewareCall<Req, Res, Ext>, context: CallContext & Ext): AsyncGenerator<Res, Res | void, undefined> {
    const parent = propagation.extract(ROOT_CONTEXT, context.metadata, metadataGetter);
    const rpc = rpcNames(call.method.path);
    const span = meziteTracer().startSpan(rpc.name, { kind: SpanKind.SERVER, attributes: { 'rpc.system': 'grpc', 'rpc.service': rpc.service, 'rpc.method': rpc.method } }, parent);
    const ctx: Context = trace.setSpan(parent, span);
    let code: number = Status.OK;
    try {
      return yield* runGeneratorIn<Res, Res | void>((fn) => otelContext.with(ctx, fn), call.next(call.request, context));
    } catch (err) {
      code = err instanceof ServerError ? err.code : isAbortError(err) ? Status.CANCELLED : Status.UNKNOWN;
      throw err;
    } finally {
      span.setAttribute('rpc.grpc.status_code', code);
      if (SERVER_FAULTS.has(code)) span.setStatus({ code: SpanStatusCode.ERROR, message: Status[code] ?? String(code) });
      span.end();
    }
  };
}

/**
 * Client middleware: a CLIENT span per call, child of whatever span is active (the
 * handler's, a CLI command's), and its W3C trace context in the call's metadata, so
 * the server's span joins the same trace.
 */
export function tracingClientMiddleware(peerName: string) {
  return async function* middleware<Req, Res>(call: ClientMiddlewareCall<Req, Res>, options: CallOptions): AsyncGenerator<Res, Res | void, undefined> {
    const rpc = rpcNames(call.method.path);
    const span = meziteTracer().startSpan(rpc.name, { kind: SpanKind.CLIENT, attributes: { 'rpc.system': 'grpc', 'rpc.service': rpc.service, 'rpc.method': rpc.method, 'peer.service': peerName } });
    const metadata = Metadata(options.metadata);
    propagation.inject(trace.setSpan(otelContext.active(), span), metadata, metadataSetter);
    let code: number = Status.OK;
    try {
      return yield* call.next(call.request, { ...options, metadata });
    } catch (err) {
      code = err instanceof ClientError ? err.code : isAbortError(err) ? Status.CANCELLED : Status.UNKNOWN;
      throw err;
    } finally {
      span.setAttribute('rpc.grpc.status_code', code);
      if (code !== Status.OK) span.setStatus({ code: SpanStatusCode.ERROR, message: Status[code] ?? String(code) });
      span.end();
    }
  };
}
