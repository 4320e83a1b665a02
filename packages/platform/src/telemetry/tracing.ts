import { SpanKind, SpanStatusCode, context, trace, type Span, type Tracer } from '@opentelemetry/api';
import type { NodeSDK } from '@opentelemetry/sdk-node';
import type { Logger } from '../log/logger';
import { tracingEnabled } from './tracing-config';

/** The tracer every Mezite span comes from. A no-op until `startTracing` registers the SDK. */
export function meziteTracer(): Tracer {
  return trace.getTracer('mezite');
}

/** A started (or skipped) tracing SDK. */
export interface Tracing {
  /** Whether the SDK runs (the OTEL_* variables asked for it). */
  enabled: boolean;
  /** Exports the spans still buffered and stops; call it before the process exits. */
  shutdown(): Promise<void>;
}

/** Options of startTracing. */
export interface TracingOptions {
  /** `service.name` unless OTEL_SERVICE_NAME names another. */
  service: string;
  log?: Logger;
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts OpenTelemetry's Node SDK when the standard variables ask for tracing (see
 * `tracingEnabled`): the exporter, protocol, endpoint, headers, sampler, batch delays
 * and resource all come from `OTEL_*` as the specification names them. Only traces:
 * metrics are Prometheus (`/metrics`) and logs are JSON on stdout, so the SDK's own
 * metric and log exporters stay off. Resources come from OTEL_RESOURCE_ATTRIBUTES and
 * the host, never the command line. When tracing is off this loads nothing.
 */
export function startTracing(o: TracingOptions): Tracing {
  const env = o.env ?? process.env;
  if (!tracingEnabled(env)) return { enabled: false, shutdown: async () => undefined };
  // Loaded only when tracing is on.
  const { NodeSDK: Sdk, resources } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const sdk: NodeSDK = new Sdk({
    ...(env.OTEL_SERVICE_NAME ? {} : { serviceName: o.service }),
    // Not the process detector: it exports the command line, and `mezd --join-token=…`
    // or `mezctl --client-secret …` would send a secret to the collector.
    resourceDetectors: [resources.envDetector, resources.hostDetector],
    resource: resources.defaultResource().merge(resources.resourceFromAttributes({ 'process.pid': process.pid, 'process.runtime.name': 'nodejs', 'process.runtime.version': process.versions.node })),
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  o.log?.info('tracing on', { exporter: env.OTEL_TRACES_EXPORTER || 'otlp', protocol: env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/protobuf' });
  let stopped: Promise<void> | undefined;
  return {
    enabled: true,
    // At most 3 s: a collector that is down must not hold up a service's shutdown.
    shutdown: () =>
      (stopped ??= Promise.race([sdk.shutdown(), new Promise<void>((resolve) => setTimeout(resolve, 3000).unref())]).catch((err: unknown) => o.log?.warn('could not export the last spans', { err }))),
  };
}

/**
 * Runs a command-line program's `main` under tracing: starts the SDK (when on), runs
 * `main` inside a root span named `span` (so every call it makes joins one trace), and
 * exports before returning the exit code. `span` is undefined for a daemon, whose
 * calls are each a trace of their own.
 */
export async function runWithTracing(o: { service: string; span?: string }, main: () => Promise<number>): Promise<number> {
  const tracing = startTracing({ service: o.service });
  if (!tracing.enabled) return main();
  try {
    if (!o.span) return await main();
    return await meziteTracer().startActiveSpan(o.span, { kind: SpanKind.INTERNAL }, async (span: Span) => {
      try {
        const code = await main();
        span.setAttribute('process.exit.code', code);
        if (code !== 0) span.setStatus({ code: SpanStatusCode.ERROR });
        return code;
      } finally {
        span.end();
      }
    });
  } finally {
    await tracing.shutdown();
  }
}

/**
 * The root span's name for a command line: the program and up to two command words
 * (`mezctl bots add`). Only words that look like subcommands are taken, so no
 * argument value (a name, a token) ends up in a span name.
 */
export function commandSpanName(prog: string, argv: string[]): string {
  const words: string[] = [];
  for (const a of argv) {
    if (words.length === 2 || !/^[a-z][a-z-]{0,31}$/.test(a)) break;
    words.push(a);
  }
  return [prog, ...words].join(' ');
}

/** The trace and span id of the active span, for log lines; undefined when there is none. */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  const sc = trace.getSpanContext(context.active());
  if (!sc || !trace.isSpanContextValid(sc)) return undefined;
  return { trace_id: sc.traceId, span_id: sc.spanId };
}
