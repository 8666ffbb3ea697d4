/**
 * The k best (highest score) items of a stream, in O(n log k) time and O(k) memory: a min-heap whose
 * root is the worst item kept, so a candidate is compared with it once and usually dropped.
 */
export class TopK<T> {
  private readonly scores: number[] = [];
  private readonly items: T[] = [];

  constructor(readonly k: number) {}

  get size(): number {
    return this.items.length;
  }

  /** The score a candidate must beat to enter (−Infinity until k items are held). */
  get threshold(): number {
    return this.items.length < this.k ? -Infinity : this.scores[0];
  }

  push(score: number, item: T): void {
    if (this.items.length < this.k) {
      this.scores.push(score);
      this.items.push(item);
      this.siftUp(this.items.length - 1);
    } else if (score > this.scores[0]) {
      this.scores[0] = score;
      this.items[0] = item;
      this.siftDown(0);
    }
  }

  /** Best first; ties keep no particular order. Empties the heap. */
  drain(): { score: number; item: T }[] {
    const out: { score: number; item: T }[] = [];
    for (let i = 0; i < this.items.length; i++) out.push({ score: this.scores[i], item: this.items[i] });
    this.scores.length = 0;
    this.items.length = 0;
    return out.sort((a, b) => b.score - a.score);
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.scores[parent] <= this.scores[i]) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const n = this.items.length;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < n && this.scores[l] < this.scores[m]) m = l;
      if (r < n && this.scores[r] < this.scores[m]) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(a: number, b: number): void {
    const s = this.scores[a]; this.scores[a] = this.scores[b]; this.scores[b] = s;
    const t = this.items[a]; this.items[a] = this.items[b]; this.items[b] = t;
  }
}
