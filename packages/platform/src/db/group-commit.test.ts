import { GroupCommit } from './group-commit';

describe('GroupCommit', () => {
  test('an item alone is written at once; items arriving meanwhile go together in the next write, in order', async () => {
    const writes: number[][] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const g = new GroupCommit<number, number>({
      write: async (batch) => {
        writes.push(batch);
        if (writes.length === 1) await gate;
        return batch.map((n) => n * 10);
      },
    });
    const first = g.submit(1);
    const rest = [2, 3, 4].map((n) => g.submit(n));
    expect(writes).toEqual([[1]]);
    release();
    expect(await first).toBe(10);
    expect(await Promise.all(rest)).toEqual([20, 30, 40]);
    expect(writes).toEqual([[1], [2, 3, 4]]);
  });

  test('a failed write rejects every item it carried, and only those', async () => {
    let n = 0;
    const g = new GroupCommit<string>({
      write: async (batch) => {
        n++;
        if (n === 2) throw new Error('database unavailable');
        return batch.map(() => undefined);
      },
    });
    const a = g.submit('a');
    const bc = [g.submit('b'), g.submit('c')];
    await a;
    await expect(bc[0]).rejects.toThrow('database unavailable');
    await expect(bc[1]).rejects.toThrow('database unavailable');
    await expect(g.submit('d')).resolves.toBeUndefined();
  });

  test('batches are cut at maxBatch', async () => {
    const sizes: number[] = [];
    const g = new GroupCommit<number>({ maxBatch: 2, write: async (b) => (sizes.push(b.length), b.map(() => undefined)) });
    await Promise.all([1, 2, 3, 4, 5].map((i) => g.submit(i)));
    expect(sizes).toEqual([1, 2, 2]);
  });

  test('a write returning the wrong number of results fails its batch', async () => {
    const g = new GroupCommit<number, number>({ write: async () => [] });
    await expect(g.submit(1)).rejects.toThrow(/0 results for 1 items/);
  });
});
