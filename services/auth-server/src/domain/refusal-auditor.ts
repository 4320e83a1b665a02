import { isMeziteError, type Clock } from '@mezite/identity';
import type { Logger } from '@mezite/platform';
import type { AuditLog } from './audit';
import type { FailureLimiter } from './failure-limiter';
import { refusalOf, type RefusalSubject } from './refusal';

/** A refused credential, as the audit record names it. */
export interface RefusalEvent {
  /** `auth.authenticate` (a bearer or certificate credential), `bot.renew` (RenewBot), `bot.join`/`node.join` (join tokens), `node.renew` (host certificates), `session.create` (ID tokens). */
  type: string;
  requestId: string;
  /** The caller's address without port (`sourceAddress`). */
  source: string;
  /** What was presented: `api token`, `session`, `bot certificate`. Never the credential itself. */
  credential: string;
  /** The target when the refusal names none: `token:?`, `bot:?`. */
  target: string;
  /** The reason when the refusal carries none (a session store that does not say why). */
  fallbackReason: string;
}

/** Options of RefusalAuditor. */
export interface RefusalAuditorOptions {
  audit: Pick<AuditLog, 'record'>;
  clock: Clock;
  /** Where failed audit writes and suppressed counts go. */
  log: Pick<Logger, 'warn'>;
  /** Records per source per window; beyond, one `audit limit reached` record. Default 30 (the bearer limiter's limit). */
  perSource?: number;
  /** Records per window over all sources, whatever their number; beyond, only a count in the log. Default 1000. */
  total?: number;
  /** Default 60 s. */
  windowMs?: number;
  /** Sources tracked per window (memory bound); default 10 000. */
  maxSources?: number;
}

interface SourceWindow {
  written: number;
  /** The one record saying this source's refusals are no longer audited was written. */
  noted: boolean;
}

/**
 * Audits refused credentials (a bad API token, session or certificate credential, a
 * certificate refused at RenewBot, a join token refused at Join) with their reason, without letting a caller who
 * sprays bad credentials flood the audit log: appends to the hash chain are serialised,
 * so every record costs every replica a turn on the chain head.
 *
 * Bounds, per replica and fixed window (1 minute): at most `perSource` records per
 * source address, then one `audit limit reached` (or, when the failure limiter refused
 * the caller, one `rate limited`) record for that source; at most `total` records over
 * all sources, then nothing but a count in the log. Every refusal is still counted in
 * `mezite_refusals_total` by the error middleware.
 *
 * An audit write that fails is logged and swallowed: a refusal stays a refusal (the
 * caller gets the same answer either way) rather than becoming INTERNAL. That is the
 * opposite of an action, which fails closed without its record: nothing was done here.
 */
export class RefusalAuditor {
  private readonly perSource: number;
  private readonly total: number;
  private readonly windowMs: number;
  private readonly maxSources: number;
  private window = Number.NaN;
  private written = 0;
  private suppressed = 0;
  private readonly sources = new Map<string, SourceWindow>();

  constructor(private readonly o: RefusalAuditorOptions) {
    if (!o.audit || !o.clock || !o.log) throw new Error('RefusalAuditor: audit, clock and log are required');
    this.perSource = o.perSource ?? 30;
    this.total = o.total ?? 1000;
    this.windowMs = o.windowMs ?? 60_000;
    this.maxSources = o.maxSources ?? 10_000;
    if (!(this.perSource >= 1 && this.total >= 1 && this.windowMs >= 1 && this.maxSources >= 1)) throw new Error('RefusalAuditor: perSource, total, windowMs and maxSources must be ≥ 1');
  }

  /**
   * Runs `attempt` (verify a credential) for a caller at `e.source`, guarded by the
   * failure limiter: a source over its limit is refused with the limiter's
   * ResourceExhausted (one `rate limited` record per window); an Unauthenticated
   * refusal counts against the source and is audited with its reason. The error the
   * caller gets is the attempt's own, unchanged.
   */
  async guard<T>(limiter: Pick<FailureLimiter, 'check' | 'fail'>, e: RefusalEvent, attempt: () => Promise<T>): Promise<T> {
    const key = [`source:${e.source}`];
    try {
      limiter.check(key);
    } catch (err) {
      if (isMeziteError(err, 'ResourceExhausted')) await this.rateLimited(e);
      throw err;
    }
    try {
      return await attempt();
    } catch (err) {
      if (isMeziteError(err, 'Unauthenticated')) {
        await limiter.fail(key);
        await this.refused(e, err);
      }
      throw err;
    }
  }

  /** Audits one refusal with its reason (the Refusal on `err`, else `e.fallbackReason`), within the bounds. Never throws. */
  async refused(e: RefusalEvent, err: unknown): Promise<void> {
    const s = this.slot(e.source);
    if (s && s.written < this.perSource) {
      s.written++;
      const r = refusalOf(err);
      return this.write(e, r?.reason ?? e.fallbackReason, r?.subject);
    }
    if (s && !s.noted) {
      s.noted = true;
      return this.write(e, 'audit limit reached', { details: { note: `further refusals from this source are not audited for ${Math.round(this.windowMs / 1000)}s` } });
    }
    this.suppressed++;
  }

  /**
   * Audits that the failure limiter refused the source: once per source per window
   * (`subject` names what was attempted, e.g. the client id). Never throws.
   */
  async rateLimited(e: Omit<RefusalEvent, 'fallbackReason'>, subject: RefusalSubject = {}): Promise<void> {
    const s = this.slot(e.source);
    if (!s || s.noted) {
      this.suppressed++;
      return;
    }
    s.noted = true;
    return this.write(e, 'rate limited', { ...subject, details: { ...subject.details, note: `further attempts from this source are not audited for ${Math.round(this.windowMs / 1000)}s` } });
  }

  /** This window's state of `source`; undefined when too many sources were seen (those count only towards the log). */
  private slot(source: string): SourceWindow | undefined {
    const w = Math.floor(this.o.clock.now().getTime() / this.windowMs);
    if (w !== this.window) {
      if (this.suppressed > 0) this.o.log.warn('refused credentials not audited (audit limit)', { count: this.suppressed, window_ms: this.windowMs });
      this.window = w;
      this.written = 0;
      this.suppressed = 0;
      this.sources.clear();
    }
    let s = this.sources.get(source);
    if (!s && this.sources.size < this.maxSources) {
      s = { written: 0, noted: false };
      this.sources.set(source, s);
    }
    return s;
  }

  private async write(e: Omit<RefusalEvent, 'fallbackReason'>, reason: string, subject: RefusalSubject = {}): Promise<void> {
    if (this.written >= this.total) {
      this.suppressed++;
      return;
    }
    this.written++;
    try {
      await this.o.audit.record({
        tenantId: subject.tenantId ?? null,
        type: e.type,
        actor: subject.actor ?? 'anonymous',
        target: subject.target ?? e.target,
        result: 'failure',
        requestId: e.requestId,
        details: { ...subject.details, reason, credential: e.credential, source: e.source },
      });
    } catch (err) {
      this.o.log.warn('could not audit a refused credential; the refusal stands', { err, type: e.type, reason, request_id: e.requestId });
    }
  }
}
