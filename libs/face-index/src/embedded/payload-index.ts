/**
 * Secondary indexes on the filterable payload fields: value → the records holding it. A filter then
 * starts from the smallest matching set instead of scanning the collection, which is what keeps
 * `count`, `delete`, `scroll` and filtered `search` proportional to what they select.
 */
import type { FacePayload } from '../face-index';
import { FILTER_FIELDS, type FilterField, matchesTerms } from '../validation';

export interface PayloadOwner {
  payload: FacePayload;
}

export class PayloadIndex<T extends PayloadOwner> {
  private readonly maps = new Map<FilterField, Map<string, Set<T>>>(FILTER_FIELDS.map((f) => [f, new Map()]));

  add(rec: T): void {
    for (const field of FILTER_FIELDS) {
      const value = rec.payload[field];
      if (typeof value !== 'string') continue;
      const map = this.maps.get(field)!;
      let set = map.get(value);
      if (!set) map.set(value, (set = new Set()));
      set.add(rec);
    }
  }

  remove(rec: T): void {
    for (const field of FILTER_FIELDS) {
      const value = rec.payload[field];
      if (typeof value !== 'string') continue;
      const map = this.maps.get(field)!;
      const set = map.get(value);
      if (!set) continue;
      set.delete(rec);
      if (set.size === 0) map.delete(value);
    }
  }

  /**
   * The smallest indexed set that contains every match of `terms` (a superset: check the other
   * terms with `matchesTerms`), or null when `terms` is empty (everything may match).
   */
  candidates(terms: readonly [FilterField, string][]): ReadonlySet<T> | null {
    let best: ReadonlySet<T> | null = null;
    for (const [field, value] of terms) {
      const set = this.maps.get(field)!.get(value);
      if (!set) return EMPTY as ReadonlySet<T>;
      if (best === null || set.size < best.size) best = set;
    }
    return best;
  }

  /** The records matching every term, when `terms` is non-empty. */
  *matching(terms: readonly [FilterField, string][]): Generator<T> {
    const set = this.candidates(terms);
    if (set === null) throw new Error('matching() needs at least one term');
    const exact = terms.length === 1;
    for (const rec of set) if (exact || matchesTerms(rec.payload, terms)) yield rec;
  }

  count(terms: readonly [FilterField, string][]): number {
    if (terms.length === 1) return this.candidates(terms)!.size;
    let n = 0;
    const it = this.matching(terms);
    while (!it.next().done) n++;
    return n;
  }
}

const EMPTY: ReadonlySet<never> = new Set<never>();
