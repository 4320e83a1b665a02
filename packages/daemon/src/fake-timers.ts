import type { FakeClock } from '@mezite/identity';
import type { TimerHandle, Timers } from './timers';

interface Pending {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * Test support: timers driven by a {@link FakeClock}. `advance(ms)` moves the clock
 * timer by timer, firing each one at its own time and letting the promises it starts
 * settle before the next one, so a test runs hours of renewals in milliseconds.
 */
export class FakeTimers implements Timers {
  private pending: Pending[] = [];
  private nextId = 1;

  constructor(private readonly clock: FakeClock) {}

  set(fn: () => void, ms: number): TimerHandle {
    const p = { id: this.nextId++, at: this.clock.now().getTime() + Math.max(0, ms), fn };
    this.pending.push(p);
    return { id: p.id };
  }

  clear(handle: TimerHandle): void {
    this.pending = this.pending.filter((p) => p.id !== handle.id);
  }

  /** Milliseconds until the earliest armed timer fires, or undefined when none is armed. */
  nextDelay(): number | undefined {
    const next = this.earliest();
    return next === undefined ? undefined : Math.max(0, next.at - this.clock.now().getTime());
  }

  /** Number of armed timers. */
  get size(): number {
    return this.pending.length;
  }

  /** Moves the clock forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.clock.now().getTime() + ms;
    await settle();
    for (let fired = 0; ; fired++) {
      if (fired > 100_000) throw new Error('FakeTimers: more than 100000 timers fired in one advance; a timer re-arms itself without delay');
      const next = this.earliest();
      if (!next || next.at > end) break;
      this.pending = this.pending.filter((p) => p !== next);
      if (next.at > this.clock.now().getTime()) this.clock.set(next.at);
      next.fn();
      await settle();
    }
    if (end > this.clock.now().getTime()) this.clock.set(end);
  }

  /** Fires the earliest timer (moving the clock to it) and returns how far the clock moved. */
  async fireNext(): Promise<number> {
    const d = this.nextDelay();
    if (d === undefined) throw new Error('FakeTimers: no timer is armed');
    await this.advance(d);
    return d;
  }

  private earliest(): Pending | undefined {
    let best: Pending | undefined;
    for (const p of this.pending) if (!best || p.at < best.at) best = p;
    return best;
  }
}

/** Lets pending promise callbacks and I/O callbacks run (the renewer awaits real I/O in tests). */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
