import type { Clock } from '@mezite/identity';
import { meziteMetrics, type Logger } from '@mezite/platform';
import type { AuditLog } from './audit';
import type { SharedFailureCounts } from './failure-limiter';

/** Options of FailureSpikeAlarm. */
export interface FailureSpikeAlarmOptions {
  clock: Clock;
  audit: Pick<AuditLog, 'record'>;
  log: Pick<Logger, 'warn'>;
  /** Failures of one client id in a window (over every source) that raise the alert. */
  threshold: number;
  /** Default 60 s: the failure limiter's window. */
  windowMs?: number;
  /** Makes the alert once per window over every replica (Redis); without it, or while it is unreachable, once per replica. */
  shared?: SharedFailureCounts;
  /** Clients remembered per window when the shared counts are not used (memory bound); default 10 000. */
  maxClients?: number;
}

/** What the alert names: the client, and the attempt that passed the threshold. */
export interface SpikeEvent {
  clientId: string;
  /** The client's service identity. */
  serviceId: string;
  tenantId: string;
  /** Failures of the client in the window, over every source. */
  failures: number;
  requestId: string;
  source: string;
}

/**
 * Alerts when one client id fails authentication from many sources: the limiter
 * refuses only a (client, source) pair or a source, so that nobody who knows a
 * client id can lock its owner out; a distributed guesser is therefore met with an
 * alert, not a refusal. Once per client per window: a structured warning log, the
 * metric `mezite_auth_failure_spikes_total{scope="client"}`, and an audit record
 * (`token.failure_spike`). It never refuses and never throws.
 */
export class FailureSpikeAlarm {
  private readonly windowMs: number;
  private readonly maxClients: number;
  private window = Number.NaN;
  private readonly raised = new Set<string>();

  constructor(private readonly o: FailureSpikeAlarmOptions) {
    if (!o.clock || !o.audit || !o.log || !(o.threshold >= 1)) throw new Error('FailureSpikeAlarm: clock, audit, log and threshold ≥ 1 are required');
    this.windowMs = o.windowMs ?? 60_000;
    this.maxClients = o.maxClients ?? 10_000;
  }

  /** Called after each failure of a known client with its count in the window; alerts once the count reaches the threshold. */
  async observe(e: SpikeEvent): Promise<void> {
    if (e.failures < this.o.threshold) return;
    if (!(await this.first(e.clientId))) return;
    const windowS = Math.round(this.windowMs / 1000);
    this.o.log.warn('failed client authentications spike: one client id failing from many sources', {
      client_id: e.clientId.slice(0, 64),
      service_id: e.serviceId,
      tenant_id: e.tenantId,
      failures: e.failures,
      threshold: this.o.threshold,
      window_s: windowS,
      request_id: e.requestId,
    });
    meziteMetrics.authFailureSpikes.inc({ scope: 'client' });
    try {
      await this.o.audit.record({
        tenantId: e.tenantId,
        type: 'token.failure_spike',
        actor: 'anonymous',
        target: `service:${e.serviceId}`,
        result: 'failure',
        requestId: e.requestId,
        details: { client_id: e.clientId.slice(0, 64), failures: String(e.failures), threshold: String(this.o.threshold), window_s: String(windowS), source: e.source },
      });
    } catch (err) {
      this.o.log.warn('could not audit a failed client authentications spike', { err, request_id: e.requestId });
    }
  }

  /** Whether this is the first alert for the client in this window: over every replica when the shared counts answer. */
  private async first(clientId: string): Promise<boolean> {
    const key = clientId.slice(0, 256);
    if (this.o.shared) {
      try {
        return (await this.o.shared.incr(`spike-alert:${key}`, this.windowMs)) === 1;
      } catch {
        // Unreachable: fall back to once per replica.
      }
    }
    const w = Math.floor(this.o.clock.now().getTime() / this.windowMs);
    if (w !== this.window) {
      this.window = w;
      this.raised.clear();
    }
    if (this.raised.has(key) || this.raised.size >= this.maxClients) return false;
    this.raised.add(key);
    return true;
  }
}
