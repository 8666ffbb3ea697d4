/**
 * Collects items from concurrent callers into batches: a batch runs when it holds `maxSize` items
 * or when the oldest item has waited `maxWaitMs`. One slow model call then serves many jobs, which
 * is what keeps a GPU (or a many-core CPU running one big inference) busy.
 */
export class MicroBatcher<I, O> {
  private pending: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running = Promise.resolve();

  constructor(
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly maxSize: number,
    private readonly maxWaitMs: number,
    private readonly onBatch?: (size: number) => void,
  ) {}

  /**
   * Resolves with this item's output once its batch has run. `urgent` items (a synchronous call,
   * whose client is waiting) do not wait for the batch to fill: the batch runs at once, with
   * whatever else is pending.
   */
  submit(items: I[], urgent = false): Promise<O[]> {
    const out = Promise.all(items.map((item) => new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length >= this.maxSize) this.flush();
      else if (!this.timer && !urgent) this.timer = setTimeout(() => this.flush(), this.maxWaitMs);
    })));
    if (urgent) this.flush();
    return out;
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending.splice(0, this.maxSize);
    if (batch.length === 0) return;
    // Batches run one after another: the model is one resource, and a second batch forming while
    // the first runs is exactly the batching we want.
    this.running = this.running.then(async () => {
      this.onBatch?.(batch.length);
      try {
        const out = await this.run(batch.map((b) => b.item));
        batch.forEach((b, i) => b.resolve(out[i]));
      } catch (err) {
        batch.forEach((b) => b.reject(err));
      }
    });
    if (this.pending.length >= this.maxSize) this.flush();
    else if (this.pending.length > 0) this.timer = setTimeout(() => this.flush(), this.maxWaitMs);
  }
}
