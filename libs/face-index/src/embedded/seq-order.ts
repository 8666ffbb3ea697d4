/**
 * The scroll order: records by `seq`, a number given to an id when it is first inserted and kept
 * when the id is re-upserted, so a re-upsert does not move a face within the order.
 *
 * Seqs are handed out increasingly, so appending keeps the array sorted; a cursor (the last seq
 * returned) is found by binary search. Deleted records stay in the array as holes (their `row` is
 * −1) until holes outnumber live records, then the array is compacted, so a delete is O(1)
 * amortised and a page costs O(log n + limit + holes skipped).
 */
export interface SeqOwner {
  seq: number;
  row: number;
}

export class SeqOrder<T extends SeqOwner> {
  private items: T[] = [];
  private holes = 0;

  /** Appends a record whose seq is greater than every seq held. */
  append(rec: T): void {
    this.items.push(rec);
  }

  /** Records a deletion (the record's `row` must already be −1). */
  removed(): void {
    this.holes++;
    if (this.holes > 1024 && this.holes * 2 > this.items.length) this.compact();
  }

  /** Rebuilds from records in any order (used when loading a snapshot). */
  reset(records: T[]): void {
    this.items = records.slice().sort((a, b) => a.seq - b.seq);
    this.holes = 0;
  }

  /** Live records with seq > `after`, in seq order. */
  *from(after: number): Generator<T> {
    let lo = 0, hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.items[mid].seq <= after) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.items.length; i++) {
      const rec = this.items[i];
      if (rec.row >= 0) yield rec;
    }
  }

  private compact(): void {
    this.items = this.items.filter((r) => r.row >= 0);
    this.holes = 0;
  }
}
