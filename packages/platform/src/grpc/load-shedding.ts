import { resourceExhausted } from '@mezite/identity';
import type { CallContext, ServerMiddlewareCall } from 'nice-grpc-common';

/** Options of {@link loadSheddingMiddleware}. */
export interface LoadSheddingOptions {
  /** Calls this replica handles at once; the next is refused. 0 turns shedding off. */
  maxInFlight: number;
  /** The retry hint sent with a refusal (the client adds its own jitter). */
  retryAfterMs: number;
  /**
   * The longest hint: while refusals outnumber completed calls, the hint grows with
   * their ratio up to this. Default 8 × `retryAfterMs`.
   */
  maxRetryAfterMs?: number;
  /**
   * Calls that finish work a client has already started (the second step of a
   * renewal): they may use the whole cap, while every other call is refused once
   * `maxInFlight - reserved` are in flight. Refusing the second step would throw away
   * the first one's work (its challenge) and make the client start over, so under
   * overload a server would spend more and more of itself on halves of renewals.
   */
  finishing?: { methods: ReadonlySet<string>; reserved: number };
  /** Milliseconds clock (tests); default Date.now. */
  now?: () => number;
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
 *
 * The hint adapts to a sustained overload: it is `retryAfterMs` times the ratio of
 * refusals to completed calls over the previous second (at least 1, at most
 * `maxRetryAfterMs`). With a fixed hint, N waiting clients come back N times per hint,
 * and on a busy machine the refusals and retries themselves eat the capacity (a
 * benchmark fleet just over capacity collapsed to a third of it); scaled, the clients'
 * retries settle near the rate the server completes calls.
 */
export function loadSheddingMiddleware(o: LoadSheddingOptions): LoadShedder {
  if (!Number.isInteger(o.maxInFlight) || o.maxInFlight < 0) throw new Error('loadSheddingMiddleware: maxInFlight must be an integer ≥ 0');
  if (!(o.retryAfterMs >= 0)) throw new Error('loadSheddingMiddleware: retryAfterMs must be ≥ 0');
  const maxRetryAfterMs = o.maxRetryAfterMs ?? o.retryAfterMs * 8;
  if (!(maxRetryAfterMs >= o.retryAfterMs)) throw new Error('loadSheddingMiddleware: maxRetryAfterMs must be ≥ retryAfterMs');
  const now = o.now ?? Date.now;
  const reserved = o.finishing && o.maxInFlight > 0 ? Math.min(o.finishing.reserved, o.maxInFlight - 1) : 0;
  if (!(reserved >= 0) || !Number.isInteger(reserved)) throw new Error('loadSheddingMiddleware: finishing.reserved must be an integer ≥ 0');
  let inFlight = 0;
  let shed = 0;
  // Refusals and completions in the current one-second window, and in the one before.
  let windowStart = now();
  let current = { shed: 0, done: 0 };
  let previous = { shed: 0, done: 0 };
  const roll = (t: number) => {
    if (t - windowStart < 1000) return;
    previous = t - windowStart < 2000 ? current : { shed: 0, done: 0 };
    current = { shed: 0, done: 0 };
    windowStart = t;
  };
  async function* middleware<Req, Res>(call: ServerMiddlewareCall<Req, Res>, context: CallContext): AsyncGenerator<Res, Res | void, undefined> {
    const cap = reserved > 0 && !o.finishing!.methods.has(call.method.path) ? o.maxInFlight - reserved : o.maxInFlight;
    if (o.maxInFlight > 0 && inFlight >= cap) {
      shed++;
      roll(now());
      current.shed++;
      const ratio = previous.shed / Math.max(1, previous.done);
      const retryAfterMs = Math.round(Math.min(maxRetryAfterMs, o.retryAfterMs * Math.max(1, ratio)));
      throw resourceExhausted(`the server is busy; retry in ${Math.max(1, Math.ceil(retryAfterMs / 1000))}s`, { retryAfterMs });
    }
    inFlight++;
    try {
      return yield* call.next(call.request, context);
    } finally {
      inFlight--;
      roll(now());
      current.done++;
    }
  }
  return Object.defineProperties(middleware, {
    inFlight: { get: () => inFlight },
    shed: { get: () => shed },
  }) as unknown as LoadShedder;
}
