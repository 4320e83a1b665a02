/** An armed timer; pass it back to {@link Timers.clear} to disarm it. */
export type TimerHandle = { readonly id: unknown };

/**
 * Timers, injected next to the Clock (STYLE.md §7) so the renewal loop is tested with
 * {@link FakeTimers} that fire when the fake clock is moved, never by sleeping.
 */
export interface Timers {
  /** Calls `fn` once, `ms` milliseconds from now. */
  set(fn: () => void, ms: number): TimerHandle;
  /** Disarms a timer; a handle that already fired or was cleared is ignored. */
  clear(handle: TimerHandle): void;
}

/** Node's setTimeout can wait at most this long (2^31-1 ms); longer waits fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Real timers. They do not keep the process alive on their own: the loop's promise does. */
export const systemTimers: Timers = {
  set(fn, ms) {
    return { id: setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMER_MS)) };
  },
  clear(handle) {
    clearTimeout(handle.id as NodeJS.Timeout);
  },
};
