import { elapsedUs, Histogram } from '../histogram';
import type { LoadResult } from './load-result';

/** Options of {@link closedLoop}. */
export interface ClosedLoopOptions {
  /** Operations kept in flight: each lane starts its next one when the previous ended. */
  inflight: number;
  /** Operations before this are run but not counted (connections, JIT). */
  warmupMs: number;
  /** Length of the measurement window after the warm-up; nothing starts after it. */
  durationMs: number;
  /** Stop after this many operations (one-time join tokens, one renewal per bot). */
  maxOps?: number;
  /**
   * An operation still unsettled after this long is abandoned and counted as an error
   * (`hung`), so one stuck call cannot hold the phase past its bound. Default 45 s:
   * every call has a deadline well below it.
   */
  opTimeoutMs?: number;
}

/** Settles like `p`, or rejects once `ms` have passed. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new HungError(`${what} did not settle within ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** An operation abandoned by {@link within}. */
export class HungError extends Error {}

/**
 * Closed-loop load: `inflight` lanes each run `op` back to back. Counted are the
 * operations that start inside the window and end by its close, so warm-up and the
 * tail do not distort the rate. Bounded in time and, when `maxOps` is set, in count;
 * when the count runs out early the window ends with the last operation.
 */
export async function closedLoop(o: ClosedLoopOptions, op: (i: number) => Promise<unknown>): Promise<LoadResult> {
  const hist = new Histogram();
  const errorSamples = new Set<string>();
  let ok = 0;
  let okTotal = 0;
  let errors = 0;
  let hung = 0;
  let issued = 0;
  const t0 = Date.now();
  const windowStart = t0 + o.warmupMs;
  const windowEnd = windowStart + o.durationMs;
  let lastEnd = windowStart;
  let cpuAtStart = o.warmupMs > 0 ? undefined : process.cpuUsage();
  const warm = o.warmupMs > 0 ? setTimeout(() => (cpuAtStart = process.cpuUsage()), o.warmupMs) : undefined;

  const lane = async () => {
    for (;;) {
      const now = Date.now();
      if (now >= windowEnd || (o.maxOps !== undefined && issued >= o.maxOps)) return;
      const i = issued++;
      const counted = now >= windowStart;
      const t = process.hrtime.bigint();
      try {
        await within(op(i), o.opTimeoutMs ?? 45_000, `operation ${i}`);
        okTotal++;
        const done = Date.now();
        if (counted && done <= windowEnd) {
          ok++;
          hist.record(elapsedUs(t));
          lastEnd = Math.max(lastEnd, done);
        }
      } catch (err) {
        if (err instanceof HungError) hung++;
        if (counted) {
          errors++;
          lastEnd = Math.max(lastEnd, Date.now());
          if (errorSamples.size < 5) errorSamples.add(String((err as Error)?.message ?? err).slice(0, 200));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: o.inflight }, lane));
  clearTimeout(warm);
  const cpu = process.cpuUsage(cpuAtStart);
  const finishedEarly = o.maxOps !== undefined && issued >= o.maxOps;
  return {
    ok,
    okTotal,
    hung,
    errors,
    errorSamples: [...errorSamples],
    hist: hist.toJSON(),
    startedAt: windowStart,
    endedAt: finishedEarly ? lastEnd : windowEnd,
    clientCpuSeconds: cpuAtStart ? (cpu.user + cpu.system) / 1e6 : 0,
  };
}
