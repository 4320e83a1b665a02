/** Options of CallBatcher. */
export interface CallBatcherOptions<In, Out> {
  /**
   * Runs one batch: resolves to one result per input, in order — a value, or an Error
   * that fails that input alone. A rejection fails every input of the batch.
   */
  run(inputs: In[]): Promise<Array<Out | Error>>;
  /** Most inputs in one batch; the rest go in further batches, sent at the same time. */
  maxBatch: number;
  /** Inputs with the same key, waiting at the same time, are sent once and share the result. */
  key?: (input: In) => string;
}

interface Entry<In, Out> {
  input: In;
  waiters: Array<{ resolve(v: Out): void; reject(err: unknown): void }>;
}

/**
 * Coalesces the calls made in one turn of the event loop into one batch (micro-batching):
 * the first call schedules a flush with `setImmediate`, which runs once the loop has
 * handled every request that arrived in this turn, so under load a batch holds whatever
 * came in meanwhile and when idle a call waits for nothing but the rest of its turn.
 *
 * A call only ever joins a batch that has not been sent: its result is computed after
 * the call was made, never taken from a batch already on its way (what makes a batched
 * verification as fresh as a single one, e.g. for a token revoked a moment before).
 */
export class CallBatcher<In, Out> {
  private pending: Array<Entry<In, Out>> = [];
  private byKey = new Map<string, Entry<In, Out>>();
  private scheduled = false;

  constructor(private readonly o: CallBatcherOptions<In, Out>) {
    if (!o.run || !(o.maxBatch >= 1)) throw new Error('CallBatcher: run and a maxBatch of at least 1 are required');
  }

  /** The result for `input`, from the next batch. */
  call(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      const k = this.o.key?.(input);
      let e = k === undefined ? undefined : this.byKey.get(k);
      if (!e) {
        e = { input, waiters: [] };
        this.pending.push(e);
        if (k !== undefined) this.byKey.set(k, e);
      }
      e.waiters.push({ resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const entries = this.pending;
    this.pending = [];
    this.byKey = new Map();
    for (let i = 0; i < entries.length; i += this.o.maxBatch) this.send(entries.slice(i, i + this.o.maxBatch));
  }

  private send(entries: Array<Entry<In, Out>>): void {
    let running: Promise<Array<Out | Error>>;
    try {
      running = this.o.run(entries.map((e) => e.input));
    } catch (err) {
      running = Promise.reject(err);
    }
    running.then(
      (results) => {
        if (results.length !== entries.length) {
          const err = new Error(`batch returned ${results.length} results for ${entries.length} inputs`);
          for (const e of entries) for (const w of e.waiters) w.reject(err);
          return;
        }
        entries.forEach((e, i) => {
          const r = results[i] as Out | Error;
          for (const w of e.waiters) (r instanceof Error ? w.reject(r) : w.resolve(r));
        });
      },
      (err: unknown) => {
        for (const e of entries) for (const w of e.waiters) w.reject(err);
      },
    );
  }
}
