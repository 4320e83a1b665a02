/** Bucket growth factor: each bucket is 1 % wider than the one before (percentiles within ±0.5 %). */
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
/** Buckets cover 1 µs … ~20 min; slower samples land in the last one. */
const BUCKETS = 2200;

/** A histogram as it travels between processes (IPC) and into results: sparse `[bucket, count]` pairs. */
export interface HistogramJson {
  counts: Array<[number, number]>;
  count: number;
  sumUs: number;
  minUs: number;
  maxUs: number;
}

/**
 * Latencies in log-spaced buckets (1 % apart): constant memory whatever the sample
 * count (a five-minute fleet run records ~10^5 samples per worker), mergeable across
 * worker processes, percentiles to within half a percent.
 */
export class Histogram {
  private readonly buckets = new Float64Array(BUCKETS);
  count = 0;
  sumUs = 0;
  minUs = Infinity;
  maxUs = 0;

  /** Records one latency in microseconds. */
  record(us: number): void {
    const v = Math.max(1, us);
    const i = Math.min(BUCKETS - 1, Math.floor(Math.log(v) / LOG_GROWTH));
    this.buckets[i] = (this.buckets[i] ?? 0) + 1;
    this.count++;
    this.sumUs += us;
    if (us < this.minUs) this.minUs = us;
    if (us > this.maxUs) this.maxUs = us;
  }

  /** Adds another histogram's samples to this one. */
  merge(other: Histogram | HistogramJson): this {
    const h = other instanceof Histogram ? other.toJSON() : other;
    for (const [i, c] of h.counts) this.buckets[i] = (this.buckets[i] ?? 0) + c;
    this.count += h.count;
    this.sumUs += h.sumUs;
    if (h.count > 0) {
      this.minUs = Math.min(this.minUs, h.minUs);
      this.maxUs = Math.max(this.maxUs, h.maxUs);
    }
    return this;
  }

  /** The latency (µs) below which fraction `q` (0..1) of the samples fall; NaN when empty. */
  quantileUs(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.buckets[i] ?? 0;
      if (seen >= rank) {
        // The bucket's geometric middle, clamped to what was actually seen.
        const mid = Math.exp((i + 0.5) * LOG_GROWTH);
        return Math.min(this.maxUs, Math.max(this.minUs, mid));
      }
    }
    return this.maxUs;
  }

  toJSON(): HistogramJson {
    const counts: Array<[number, number]> = [];
    for (let i = 0; i < BUCKETS; i++) {
      const c = this.buckets[i] ?? 0;
      if (c > 0) counts.push([i, c]);
    }
    return { counts, count: this.count, sumUs: this.sumUs, minUs: this.count ? this.minUs : 0, maxUs: this.maxUs };
  }

  static from(json: HistogramJson): Histogram {
    return new Histogram().merge(json);
  }
}

/** Microseconds elapsed since `startNs` (a `process.hrtime.bigint()` reading). */
export function elapsedUs(startNs: bigint): number {
  return Number(process.hrtime.bigint() - startNs) / 1000;
}
