import { Histogram, type HistogramJson } from '../histogram';

/** What one load generator (or signer) measured in one run. */
export interface LoadResult {
  /** Operations that succeeded inside the measurement window. */
  ok: number;
  /** Every operation that succeeded, warm-up and tail included: what CPU per operation divides by. */
  okTotal: number;
  /** Operations abandoned after not settling for far longer than their deadline (should be 0). */
  hung?: number;
  /** Operations that failed inside the window. */
  errors: number;
  /** A few distinct error messages, for the report. */
  errorSamples: string[];
  /** Latency of the successful operations. */
  hist: HistogramJson;
  /** The measurement window (epoch ms): after warm-up, until the last operation or the deadline. */
  startedAt: number;
  endedAt: number;
  /** CPU the generator itself used in the window (user + system seconds). */
  clientCpuSeconds: number;
}

/** Several generators' results as one: counts added, window from the first start to the last end. */
export interface CombinedResult {
  ok: number;
  okTotal: number;
  hung: number;
  errors: number;
  errorSamples: string[];
  /** Successful operations per second over the combined window. */
  rate: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  windowSeconds: number;
  clientCpuSeconds: number;
  hist: HistogramJson;
}

/** Combines the results of parallel generators. */
export function combine(results: LoadResult[]): CombinedResult {
  const hist = new Histogram();
  for (const r of results) hist.merge(r.hist);
  const ok = results.reduce((a, r) => a + r.ok, 0);
  const okTotal = results.reduce((a, r) => a + (r.okTotal ?? r.ok), 0);
  const errors = results.reduce((a, r) => a + r.errors, 0);
  const start = Math.min(...results.map((r) => r.startedAt));
  const end = Math.max(...results.map((r) => r.endedAt));
  const windowSeconds = Math.max(1e-3, (end - start) / 1000);
  return {
    ok,
    okTotal,
    hung: results.reduce((a, r) => a + (r.hung ?? 0), 0),
    errors,
    errorSamples: [...new Set(results.flatMap((r) => r.errorSamples))].slice(0, 5),
    rate: ok / windowSeconds,
    p50Ms: hist.quantileUs(0.5) / 1000,
    p99Ms: hist.quantileUs(0.99) / 1000,
    maxMs: hist.maxUs / 1000,
    windowSeconds,
    clientCpuSeconds: results.reduce((a, r) => a + r.clientCpuSeconds, 0),
    hist: hist.toJSON(),
  };
}
