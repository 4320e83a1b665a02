/**
 * Time comes from an injected Clock (STYLE.md §7), so TTLs, deadlines and renewals are
 * tested with a FakeClock instead of sleeping.
 */
export interface Clock {
  /** The current time. */
  now(): Date;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => new Date() };

/** A clock that moves only when told to. */
export class FakeClock implements Clock {
  private t: number;
  constructor(start: Date | string | number = '2026-01-01T00:00:00Z') {
    this.t = new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.t);
  }
  /** Moves the clock forward by `ms` milliseconds. */
  advance(ms: number): void {
    this.t += ms;
  }
  /** Sets the clock to `to`. */
  set(to: Date | string | number): void {
    this.t = new Date(to).getTime();
  }
}
