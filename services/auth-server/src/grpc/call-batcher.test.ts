import { CallBatcher } from './call-batcher';

/** A batcher whose batches are recorded and answered by `answer`. */
function recording<Out>(answer: (inputs: string[]) => Promise<Array<Out | Error>>, o: { maxBatch?: number; key?: boolean } = {}) {
  const batches: string[][] = [];
  const b = new CallBatcher<string, Out>({
    run: (inputs) => {
      batches.push(inputs);
      return answer(inputs);
    },
    maxBatch: o.maxBatch ?? 100,
    ...(o.key ? { key: (s: string) => s } : {}),
  });
  return { b, batches };
}

test('calls made in one turn of the event loop go in one batch, each gets its own result', async () => {
  const { b, batches } = recording(async (xs) => xs.map((x) => x.toUpperCase()));
  const r = await Promise.all(['a', 'b', 'c'].map((x) => b.call(x)));
  expect(r).toEqual(['A', 'B', 'C']);
  expect(batches).toEqual([['a', 'b', 'c']]);
});

test('the same key waiting twice is sent once and both get the result', async () => {
  const { b, batches } = recording(async (xs) => xs.map((x) => `${x}!`), { key: true });
  const r = await Promise.all(['t', 'u', 't', 't'].map((x) => b.call(x)));
  expect(r).toEqual(['t!', 'u!', 't!', 't!']);
  expect(batches).toEqual([['t', 'u']]);
});

test('an Error result fails only its own calls; a rejected batch fails all of them', async () => {
  const { b } = recording<string>(async (xs) => xs.map((x) => (x === 'bad' ? new Error('refused') : x)), { key: true });
  const r = await Promise.allSettled(['ok', 'bad', 'bad'].map((x) => b.call(x)));
  expect(r.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'rejected']);

  const down = recording<string>(async () => Promise.reject(new Error('unavailable'))).b;
  await expect(Promise.all([down.call('a'), down.call('b')])).rejects.toThrow('unavailable');
  const thrown = new CallBatcher<string, string>({
    run: () => {
      throw new Error('sync');
    },
    maxBatch: 5,
  });
  await expect(thrown.call('a')).rejects.toThrow('sync');
});

test('a batch answering the wrong number of results fails every call of it', async () => {
  const { b } = recording(async () => ['only one']);
  await expect(Promise.all([b.call('a'), b.call('b')])).rejects.toThrow('2 inputs');
});

test('more than maxBatch waiting go out as several batches at once', async () => {
  const { b, batches } = recording(async (xs) => xs, { maxBatch: 2 });
  await Promise.all(['a', 'b', 'c', 'd', 'e'].map((x) => b.call(x)));
  expect(batches).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
});

test('a call never joins a batch already sent: it waits for the next one, even for the same key', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let n = 0;
  const { b, batches } = recording(
    async (xs) => {
      const batch = ++n;
      if (batch === 1) await gate;
      return xs.map((x) => `${x}@${batch}`);
    },
    { key: true },
  );
  const first = b.call('t');
  await new Promise((r) => setImmediate(r)); // the first batch is on its way
  const second = b.call('t');
  await new Promise((r) => setImmediate(r));
  expect(batches).toEqual([['t'], ['t']]);
  expect(await second).toBe('t@2');
  release();
  expect(await first).toBe('t@1');
});
