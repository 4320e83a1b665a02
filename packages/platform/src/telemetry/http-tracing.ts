import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace, type TextMapGetter } from '@opentelemetry/api';
import { meziteMetrics } from '../metrics/metrics';
import { newRequestId } from '../grpc/client';
import { runInRequest } from './request-scope';
import { meziteTracer } from './tracing';

const headerGetter: TextMapGetter<IncomingHttpHeaders> = {
  get: (h, key) => h[key],
  keys: (h) => Object.keys(h),
};

/**
 * Handles one HTTP request the way the gRPC server middleware handles a call: a
 * SERVER span continuing the caller's W3C `traceparent`, a request scope (so log lines
 * carry its request id and trace id), and its latency by route and status on
 * `/metrics`, recorded when the response is finished. `route` is a fixed name
 * (`POST /oauth2/token`), never the raw URL.
 */
export function traceHttpRequest<T>(route: string, req: IncomingMessage, res: ServerResponse, fn: () => Promise<T>, requestId: string = newRequestId()): Promise<T> {
  const parent = propagation.extract(ROOT_CONTEXT, req.headers, headerGetter);
  const span = meziteTracer().startSpan(route, { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method ?? '', 'http.route': route, 'mezite.request_id': requestId } }, parent);
  const started = process.hrtime.bigint();
  res.once('close', () => {
    const code = res.statusCode;
    span.setAttribute('http.response.status_code', code);
    if (code >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
    meziteMetrics.httpHandling.observe({ route, code: String(code) }, Number(process.hrtime.bigint() - started) / 1e9);
  });
  return context.with(trace.setSpan(parent, span), () => runInRequest({ requestId }, fn));
}
