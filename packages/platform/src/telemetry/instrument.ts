import type { Instrumentation } from '@opentelemetry/instrumentation';
import { tracingEnabled } from './tracing-config';

let instrumented = false;

/**
 * `import '@mezite/platform/instrument'`, first in a service's main.ts: when tracing
 * is on, hooks `pg` and `ioredis` before anything loads them, so every query Prisma's
 * pg adapter or the Redis cache sends becomes a child span of the request that sent it.
 * Spans appear once `startTracing` has registered the SDK (the hooks reach it through
 * the API's global tracer provider). Off, this loads nothing.
 *
 * Only statements with a parent span are recorded (no traces of their own for
 * migrations or background flushes), and never their parameter values: SQL text is
 * parameterised by Prisma, and Redis commands are reported by name only.
 */
export function instrumentDrivers(env: NodeJS.ProcessEnv = process.env): boolean {
  if (!tracingEnabled(env) || instrumented) return instrumented;
  // Loaded only when tracing is on.
  const { registerInstrumentations } = require('@opentelemetry/instrumentation') as typeof import('@opentelemetry/instrumentation');
  const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
  const { IORedisInstrumentation } = require('@opentelemetry/instrumentation-ioredis') as typeof import('@opentelemetry/instrumentation-ioredis');
  const instrumentations: Instrumentation[] = [
    new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false, ignoreConnectSpans: true }),
    new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: (cmd) => cmd }),
  ];
  registerInstrumentations({ instrumentations });
  instrumented = true;
  return true;
}

instrumentDrivers();
