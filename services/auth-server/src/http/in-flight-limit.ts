import { oauthError, type Reply } from './oauth2';

/** Options of InFlightLimit: the gRPC port's (`MEZITE_MAX_IN_FLIGHT`, `MEZITE_SHED_RETRY_AFTER`). */
export interface InFlightLimitOptions {
  /** Requests handled at once; the next is shed. 0 turns shedding off. */
  maxInFlight: number;
  /** The retry hint of a shed request, sent as `Retry-After` in whole seconds (at least 1). */
  retryAfterMs: number;
}

/**
 * Load shedding for the OAuth2 endpoints, as loadSheddingMiddleware does for the gRPC
 * port: at most `maxInFlight` requests are handled at once per replica, and the next
 * one is answered at once with 503, `Retry-After` (RFC 9110 §10.2.3, seconds) and the
 * OAuth2 error `temporarily_unavailable` (RFC 6749 §4.1.2.1), before client
 * authentication or any call to token-service. A slot is taken once the body is read,
 * so slow senders hold connections (bounded by the server's request timeout) but not
 * the capacity for work. The port has its own count: a gRPC burst does not shed
 * OAuth2 requests, nor the reverse.
 */
export class InFlightLimit {
  private current = 0;
  private refused = 0;
  private readonly seconds: number;

  constructor(private readonly o: InFlightLimitOptions) {
    if (!Number.isInteger(o.maxInFlight) || o.maxInFlight < 0) throw new Error('InFlightLimit: maxInFlight must be an integer ≥ 0');
    if (!(o.retryAfterMs >= 0)) throw new Error('InFlightLimit: retryAfterMs must be ≥ 0');
    this.seconds = Math.max(1, Math.ceil(o.retryAfterMs / 1000));
  }

  /** Takes a slot: the function that gives it back (call it once), or undefined when the request is to be shed. */
  acquire(): (() => void) | undefined {
    if (this.o.maxInFlight > 0 && this.current >= this.o.maxInFlight) {
      this.refused++;
      return undefined;
    }
    this.current++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.current--;
    };
  }

  /** The answer to a shed request. */
  shedReply(): Reply {
    return oauthError(503, 'temporarily_unavailable', `the server is busy; retry in ${this.seconds}s`, { 'retry-after': String(this.seconds) });
  }

  /** Requests being handled now. */
  get inFlight(): number {
    return this.current;
  }

  /** Requests shed since start. */
  get shed(): number {
    return this.refused;
  }
}
