import { FakeClock } from '@mezite/identity';
import { createLogger, type Logger } from '@mezite/platform/client';
import { FakeTimers } from './fake-timers';
import { IdentityRenewer } from './identity-renewer';
import { MemoryDestination } from './memory-destination';
import { MemoryIssuer } from './memory-issuer';
import { MemoryStateStore } from './memory-state-store';
import { RenewalLoop } from './renewal-loop';

/*
 * Test support: mezd's renewer and renewal loop over the in-memory issuer, store and
 * destination, on fake timers, as the loop and renewer tests drive them.
 */

export const MIN = 60_000;
export const HOUR = 60 * MIN;

/** One simulated daemon and everything it touches. */
export interface Rig {
  clock: FakeClock;
  timers: FakeTimers;
  issuer: MemoryIssuer;
  dest: MemoryDestination;
  store: MemoryStateStore;
  renewer: IdentityRenewer;
  loop: RenewalLoop;
  logs: Array<Record<string, unknown>>;
  running: Promise<void>;
  outcome: { settled: boolean; error?: unknown };
}

/** Options of {@link rig}. */
export interface RigOptions {
  intervalMs?: number;
  ttlMs?: number;
  joinToken?: string | null;
  prepare?: (issuer: MemoryIssuer) => void;
  /** A restart: the same clock, timers, issuer, destination and store, and a new renewer from the saved state. */
  after?: Rig;
}

/** A renewer over an in-memory issuer, and a loop on fake timers with no jitter (random = 0.5). */
export function rig(o: RigOptions = {}): Rig {
  const clock = o.after?.clock ?? new FakeClock('2026-03-24T12:00:00Z');
  const timers = o.after?.timers ?? new FakeTimers(clock);
  const issuer = o.after?.issuer ?? new MemoryIssuer(clock);
  o.prepare?.(issuer);
  const dest = o.after?.dest ?? new MemoryDestination();
  const store = o.after?.store ?? new MemoryStateStore();
  const logs: Array<Record<string, unknown>> = [];
  const logger: Logger = createLogger({ service: 'mezd', level: 'debug', write: (l) => logs.push(JSON.parse(l) as Record<string, unknown>) });
  const saved = store.state;
  const renewer = new IdentityRenewer({
    issuer, store, destinations: [dest], clock, logger, authServer: '127.0.0.1:3025', caCertPem: 'unused', certificateTtlMs: o.ttlMs ?? HOUR,
    joinToken: o.joinToken === null ? undefined : (o.joinToken ?? issuer.joinToken),
    initial: saved?.identity, joinTokenHash: saved?.joinTokenHash, pending: saved?.pending,
    heartbeat: { renewalIntervalMs: o.intervalMs ?? 20 * MIN, oneShot: false },
  });
  const loop = new RenewalLoop({ renewer, clock, timers, logger, renewalIntervalMs: o.intervalMs ?? 20 * MIN, random: () => 0.5 });
  const outcome: Rig['outcome'] = { settled: false };
  const running = loop.run().then(
    () => void (outcome.settled = true),
    (err: unknown) => {
      outcome.settled = true;
      outcome.error = err;
    },
  );
  return { clock, timers, issuer, dest, store, renewer, loop, logs, running, outcome };
}

/** When the next attempt is due (ms). */
export const at = (r: Rig) => r.loop.nextAttemptAt?.getTime() ?? NaN;
/** How long after `start` the next attempt is due. */
export const since = (r: Rig, start: number) => at(r) - start;
/** The rig's clock at start. */
export const T0 = new Date('2026-03-24T12:00:00Z').getTime();
