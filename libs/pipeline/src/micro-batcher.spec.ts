import { MicroBatcher } from './micro-batcher';

describe('MicroBatcher', () => {
  it('gathers items from concurrent callers into one run, each caller getting its own outputs', async () => {
    const runs: number[][] = [];
    const batcher = new MicroBatcher<number, number>(async (xs) => { runs.push(xs); return xs.map((x) => x * 10); }, 8, 50);
    const results = await Promise.all([batcher.submit([1, 2]), batcher.submit([3]), batcher.submit([4, 5, 6])]);
    expect(results).toEqual([[10, 20], [30], [40, 50, 60]]);
    expect(runs).toEqual([[1, 2, 3, 4, 5, 6]]);
  });

  it('runs as soon as a batch is full, and the rest after the wait', async () => {
    const runs: number[][] = [];
    const batcher = new MicroBatcher<number, number>(async (xs) => { runs.push(xs); return xs; }, 3, 20);
    const started = Date.now();
    await Promise.all([batcher.submit([1, 2, 3, 4]), batcher.submit([5])]);
    expect(runs).toEqual([[1, 2, 3], [4, 5]]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
  });

  it('runs batches one at a time and reports their sizes', async () => {
    let active = 0, maxActive = 0;
    const sizes: number[] = [];
    const batcher = new MicroBatcher<number, number>(async (xs) => {
      active++; maxActive = Math.max(maxActive, active);
      await new Promise((r) => setTimeout(r, 10));
      active--;
      return xs;
    }, 2, 1, (n) => sizes.push(n));
    await Promise.all([1, 2, 3, 4, 5].map((x) => batcher.submit([x])));
    expect(maxActive).toBe(1);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(5);
  });

  it('rejects every caller of a failed batch, and keeps working after', async () => {
    let fail = true;
    const batcher = new MicroBatcher<number, number>(async (xs) => { if (fail) throw new Error('model crashed'); return xs; }, 4, 5);
    await expect(Promise.all([batcher.submit([1]), batcher.submit([2])])).rejects.toThrow('model crashed');
    fail = false;
    await expect(batcher.submit([3])).resolves.toEqual([3]);
  });

  it('runs an urgent submission at once, taking along what was waiting', async () => {
    const runs: number[][] = [];
    const batcher = new MicroBatcher<number, number>(async (xs) => { runs.push(xs); return xs; }, 8, 10_000);
    const started = Date.now();
    const waiting = batcher.submit([1, 2]);
    await expect(batcher.submit([3], true)).resolves.toEqual([3]);
    await expect(waiting).resolves.toEqual([1, 2]);
    expect(runs).toEqual([[1, 2, 3]]);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('resolves an empty submission at once', async () => {
    const batcher = new MicroBatcher<number, number>(async (xs) => xs, 4, 1000);
    await expect(batcher.submit([])).resolves.toEqual([]);
  });
});
