import { type Clock, isMeziteError } from '@mezite/identity';
import type { Logger } from '@mezite/platform/client';
import { type BotIdentity, issuedAt, isUsable, renewBy } from './bot-identity';
import { DestinationError } from './destination';
import type { TimerHandle, Timers } from './timers';

/** What the loop drives: one join-or-renew attempt, and the identity it holds. */
export interface Refresher {
  refresh(): Promise<BotIdentity>;
  current(): BotIdentity | undefined;
  /** Whether a failure now may still heal (a live certificate or a join token). */
  canRecover(now: Date): boolean;
  /** The request id of the latest attempt, logged with its failure. */
  readonly lastRequestId?: string | undefined;
  /** What the latest attempt did; without it, an attempt without a live certificate counts as a join. */
  readonly lastAction?: 'join' | 'renew' | undefined;
}

/** Options of {@link RenewalLoop}. */
export interface RenewalLoopOptions {
  renewer: Refresher;
  clock: Clock;
  timers: Timers;
  logger: Logger;
  /** The nominal time between renewals; each wait is jittered by ±10 %. */
  renewalIntervalMs: number;
  /** Uniform in [0, 1); injectable so tests know the jitter. */
  random?: () => number;
}

/**
 * Retries start at 1 s and double up to 1 min, each jittered by ±20 %. A server that
 * sheds load says when to come back (`retry-after-ms`): the wait is then that hint
 * times a random factor in [1, 2), so a fleet told "1 s" at the same moment returns
 * spread over a second instead of all at once; and the backoff starts again from
 * 1 s, because a server that answers is up (after an outage, the backoff had grown
 * to half a minute, and bots would idle while the server had room).
 */
export const BACKOFF_MIN_MS = 1_000;
export const BACKOFF_MAX_MS = 60_000;
/**
 * A wait is split into steps of at most this, each re-reading the clock, so a host
 * that slept through a renewal (a suspended VM) renews within 5 min of waking.
 */
export const MAX_STEP_MS = 5 * 60_000;

/**
 * The daemon's schedule. The first attempt runs at once; after a success the next is
 * due after the interval (±10 %) and never later than 2/3 of the certificate's life;
 * after a failure it retries with exponential backoff (1 s … 1 min) for as long as the
 * certificate is valid, keeping the files already written. A bot that is locked is
 * retried the same way, so an unlock resumes it within a minute. A failure that cannot
 * heal (the certificate expired, the join token was refused) ends the loop with that
 * error. Retrying is safe because the renewer sends the same key for the same step and
 * the server answers such a repeat with the same certificate; so a refused join token
 * is final: a join of ours that committed before its response was lost is answered
 * again, not refused.
 */
export class RenewalLoop {
  private timer: TimerHandle | undefined;
  private dueAt: number | undefined;
  private inFlight: Promise<void> | undefined;
  private failures = 0;
  private state: 'idle' | 'running' | 'stopped' = 'idle';
  private readonly done: Promise<void>;
  private settle!: { resolve: () => void; reject: (err: unknown) => void };
  private readonly random: () => number;

  constructor(private readonly o: RenewalLoopOptions) {
    for (const k of ['renewer', 'clock', 'timers', 'logger'] as const) if (!o[k]) throw new Error(`RenewalLoop: ${k} is required`);
    if (!(o.renewalIntervalMs > 0)) throw new Error('RenewalLoop: renewalIntervalMs must be positive');
    this.random = o.random ?? Math.random;
    this.done = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
  }

  /** When the next attempt is due, or undefined while one runs or after the loop ended. */
  get nextAttemptAt(): Date | undefined {
    return this.dueAt === undefined ? undefined : new Date(this.dueAt);
  }

  /** Starts with an attempt now; resolves after {@link stop}, rejects with an error that cannot heal. */
  run(): Promise<void> {
    if (this.state === 'idle') {
      this.state = 'running';
      void this.attempt();
    }
    return this.done;
  }

  /**
   * Renews now (SIGHUP), whatever the schedule says; resolves when that attempt has
   * finished and the next one is scheduled. While an attempt runs, waits for it instead.
   */
  renewNow(): Promise<void> {
    if (this.state !== 'running') return Promise.resolve();
    if (this.inFlight) {
      this.o.logger.info('renewal already in progress');
      return this.inFlight;
    }
    this.o.logger.info('renewal requested');
    this.disarm();
    return this.attempt();
  }

  /** Stops scheduling, lets an attempt in flight finish (its calls have deadlines), and ends the loop. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.disarm();
    await this.inFlight;
    this.settle.resolve();
  }

  private attempt(): Promise<void> {
    this.dueAt = undefined;
    const p = (async () => {
      try {
        const identity = await this.o.renewer.refresh();
        this.failures = 0;
        if (this.state === 'running') this.scheduleRenewal(identity);
      } catch (err) {
        if (this.state === 'running') this.onFailure(err);
      }
    })().finally(() => {
      this.inFlight = undefined;
    });
    this.inFlight = p;
    return p;
  }

  private scheduleRenewal(identity: BotIdentity): void {
    const now = this.o.clock.now().getTime();
    const interval = this.o.renewalIntervalMs * (0.9 + 0.2 * this.random());
    // The 2/3 point is jittered too (±5 % of the life), else bots whose certificates are
    // shorter than ~1.5 intervals, once renewed together, stay together for good.
    const by = renewBy(identity).getTime();
    const cap = by + (by - issuedAt(identity).getTime()) * 0.15 * (this.random() - 0.5);
    const due = Math.max(now, Math.min(now + interval, cap));
    this.o.logger.info('next renewal scheduled', { at: new Date(due).toISOString(), generation: identity.generation });
    this.arm(due);
  }

  private onFailure(err: unknown): void {
    const now = this.o.clock.now();
    const cur = this.o.renewer.current();
    const fields = { ...errorFields(err), ...(this.o.renewer.lastRequestId ? { request_id: this.o.renewer.lastRequestId } : {}) };
    const action = this.o.renewer.lastAction ?? (isUsable(cur, now) ? 'renew' : 'join');
    if (!this.o.renewer.canRecover(now) || (action === 'join' && !isTransient(err))) {
      this.o.logger.error('giving up', fields);
      this.state = 'stopped';
      this.disarm();
      this.settle.reject(err);
      return;
    }
    const retryAfter = isMeziteError(err, 'ResourceExhausted') ? err.retryAfterMs : undefined;
    let delay: number;
    if (retryAfter !== undefined && retryAfter > 0) {
      this.failures = 0;
      delay = Math.min(BACKOFF_MAX_MS, Math.max(BACKOFF_MIN_MS, retryAfter) * (1 + this.random()));
    } else {
      const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(this.failures, 16));
      this.failures++;
      delay = Math.min(BACKOFF_MAX_MS, Math.max(BACKOFF_MIN_MS, base * (0.8 + 0.4 * this.random())));
    }
    let due = now.getTime() + delay;
    // One last try just before the certificate expires rather than just after.
    const lastChance = cur ? cur.validBefore.getTime() - 1_000 : NaN;
    if (lastChance > now.getTime()) due = Math.min(due, lastChance);
    const { msg, refused, hint } = describeFailure(err, action);
    this.o.logger[refused ? 'error' : 'warn'](msg, {
      ...fields,
      ...(hint ? { hint } : {}),
      retry_at: new Date(due).toISOString(),
      ...(cur ? { valid_before: cur.validBefore.toISOString() } : {}),
    });
    this.arm(due);
  }

  private arm(due: number): void {
    this.dueAt = due;
    const step = Math.min(MAX_STEP_MS, Math.max(0, due - this.o.clock.now().getTime()));
    this.timer = this.o.timers.set(() => {
      this.timer = undefined;
      if (this.state !== 'running') return;
      if (this.o.clock.now().getTime() >= due) void this.attempt();
      else this.arm(due);
    }, step);
  }

  private disarm(): void {
    if (this.timer) this.o.timers.clear(this.timer);
    this.timer = undefined;
    this.dueAt = undefined;
  }
}

/** Errors worth retrying even without a live certificate: the server or network, not a refusal. */
function isTransient(err: unknown): boolean {
  if (!isMeziteError(err)) return true;
  return err.code === 'Unavailable' || err.code === 'DeadlineExceeded' || err.code === 'Internal' || err.code === 'ResourceExhausted';
}

/**
 * The log line of a failed attempt: the destination's failure, the server's refusal
 * (PermissionDenied, FailedPrecondition, a join token refused: a person has to act)
 * or a failure to retry. A PermissionDenied renewal says what can cause it, since the server's message may
 * only say "locked": an admin's lock, or a copy of this instance's credentials seen
 * (its generation presented twice with different keys). Shared with `--one-shot`.
 */
export function describeFailure(err: unknown, action: 'join' | 'renew' | undefined): { msg: string; refused: boolean; hint?: string } {
  const refused = isMeziteError(err, 'PermissionDenied') || isMeziteError(err, 'FailedPrecondition') || (action === 'join' && isMeziteError(err, 'Unauthenticated'));
  const noun = action === 'join' ? 'join' : 'renewal';
  if (err instanceof DestinationError) return { msg: 'destination write failed', refused };
  if (!refused) return { msg: `${noun} failed`, refused };
  return {
    msg: `${noun} refused by the auth server`,
    refused,
    ...(isMeziteError(err, 'PermissionDenied') && action === 'renew'
      ? { hint: 'the bot or this instance is locked: by an admin, or because a copy of these credentials was used (one generation presented twice with different keys); a new join token starts a new instance' }
      : {}),
  };
}

function errorFields(err: unknown): Record<string, unknown> {
  if (err instanceof DestinationError) return { code: err.code, reason: err.message, destination: err.destination };
  if (isMeziteError(err)) return { code: err.code, reason: err.message };
  return { code: 'Internal', reason: err instanceof Error ? err.message : String(err) };
}
