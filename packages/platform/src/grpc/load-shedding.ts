import { resourceExhausted } from '@mezite/identity';
import type { CallContext, ServerMiddlewareCall } from 'nice-grpc-common';

/** Options of {@link loadSheddingMiddleware}. */
export interface LoadSheddingOptions {
  /** Calls this replica handles at once; the next is refused. 0 turns shedding off. */
  maxInFlight: number;
  /** The retry hint sent with a refusal (the client adds its own jitter). */
  retryAfterMs: number;
}

/** What a shedding middleware reports, for metrics and tests. */
export interface LoadShedder {
  <Req, Res>(call: ServerMiddlewareCall<Req, Res>, context: CallContext): AsyncGenerator<Res, Res | void, undefined>;
  /** Calls being handled now. */
  readonly inFlight: number;
  /** Calls refused since start. */
  readonly shed: number;
}

/**
 * Server-side load shedding: at most `maxInFlight` calls are handled at once per
 * replica; any call beyond that is refused at once with RESOURCE_EXHAUSTED and a
 * `retry-after-ms` hint, before authentication or any database work. A burst (every
 * bot retrying the moment an outage ends) then costs the server a cheap refusal per
 * excess call instead of a queue in which every call outlives its deadline and is
 * retried again. Clients honour the hint with jitter (mezd's renewal loop), so the
 * burst spreads out. Place it after the request middleware (which maps the error
 * and counts the refusal) and before authentication.
 */
export function loadSheddingMiddleware(o: LoadSheddingOptions): LoadShedder {
  if (!Number.isInteger(o.maxInFlight) || o.maxInFlight < 0) throw new Error('loadSheddingMiddleware: maxInFlight must be an integer ≥ 0');
  if (!(o.retryAfterMs >= 0)) throw new Error('loadSheddingMiddleware: retryAfterMs must be ≥ 0');
  let inFlight = 0;
  let shed = 0;
  const seconds = Math.max(1, Math.ceil(o.retryAfterMs / 1000));
  async function* middleware<Req, Res>(call: ServerMiddlewareCall<Req, Res>, context: CallContext): AsyncGenerator<Res, Res | void, undefined> {
    if (o.maxInFlight > 0 && inFlight >= o.maxInFlight) {
      shed++;
      throw resourceExhausted(`the server is busy; retry in ${seconds}s`, { retryAfterMs: o.retryAfterMs });
    }
    inFlight++;
    try {
      return yield* call.next(call.request, context);
    } finally {
      inFlight--;
    }
  }
  return Object.defineProperties(middleware, {
    inFlight: { get: () => inFlight },
    shed: { get: () => shed },
  }) as unknown as LoadShedder;
}
