/**
 * The in-memory state of one collection and every operation on it, with no I/O: the durable layer
 * (`embedded-collection.ts`) logs an op, then applies it here; recovery applies the logged ops the
 * same way. Keeping the two paths one function is what makes replay reproduce the live state.
 *
 * Per face: a record (id, payload, scroll seq, graph key, vector row). Ids map to numeric graph
 * keys because usearch keys are uint64; a re-upsert gives the face a fresh key (remove + add)
 * rather than re-adding a removed key, and keeps its seq, so it does not move in scroll order.
 */
import { exactSearch, MetricKind } from 'usearch';
import { FaceIndexError } from '../errors';
import type { FacePayload, Hit } from '../face-index';
import { type FilterField, filterTerms, matchesTerms } from '../validation';
import type { HnswGraph } from './hnsw';
import type { Projection } from './projection';
import { PayloadIndex } from './payload-index';
import { SeqOrder } from './seq-order';
import { TopK } from './top-k';
import { cosine, squaredNorm, VectorStore } from './vector-store';
import type { WalOp } from './wal';

export interface FaceRecord {
  readonly id: string;
  /** Scroll order; kept across re-upserts. */
  readonly seq: number;
  /** Current usearch key. */
  key: number;
  /** Row in the vector store; −1 once deleted. */
  row: number;
  payload: FacePayload;
}

export interface SearchTuning {
  /** Candidates asked of the graph (HNSW's ef at query time); at least k. */
  expansionSearch: number;
  /** Filtered searches whose candidate set is at most this large scan it exactly. */
  exactFilterMax: number;
  /** Threads for a brute-force scan of the whole collection. */
  exactThreads: number;
  connectivity: number;
  /**
   * Whether the graph's own distances are exact (float32 graph): its order is then final and only
   * the k best are re-scored (for scores identical to the exact path's); a quantized graph's
   * order is approximate, so its first max(4k, 64) candidates are re-ranked on the exact vectors.
   */
  graphIsExact: boolean;
}

export type Terms = readonly [FilterField, string][];

export class CollectionState {
  readonly byId = new Map<string, FaceRecord>();
  private readonly byKey = new Map<number, FaceRecord>();
  readonly vectors: VectorStore<FaceRecord>;
  private readonly payloads = new PayloadIndex<FaceRecord>();
  private readonly order = new SeqOrder<FaceRecord>();

  constructor(
    readonly dimensions: number,
    private graphValue: HnswGraph,
    private nextKeyValue: number,
    private nextSeqValue: number,
  ) {
    this.vectors = new VectorStore<FaceRecord>(dimensions);
  }

  get size(): number {
    return this.byId.size;
  }

  get graph(): HnswGraph {
    return this.graphValue;
  }

  /** Up to `max` stored vectors, spread evenly over the rows (row-major), e.g. to fit a projection. */
  sampleVectors(max: number): { data: Float32Array; rows: number } {
    const n = this.vectors.size, d = this.dimensions;
    const rows = Math.min(n, max);
    const data = new Float32Array(rows * d);
    for (let i = 0; i < rows; i++) data.set(this.vectors.row(Math.floor((i * n) / rows)), i * d);
    return { data, rows };
  }

  /**
   * Replaces the graph with one over every live face, through `projection`. Built in slices with
   * the event loop free between them, so searches go on (on the old graph until the swap). Writes
   * must not run meanwhile: the caller runs this in the collection's write loop.
   */
  async rebuildGraph(projection: Projection | null): Promise<void> {
    const graph = this.graphValue.emptyLike(projection);
    const d = this.dimensions, n = this.vectors.size, slice = 2048;
    for (let first = 0; first < n; first += slice) {
      const rows = Math.min(slice, n - first);
      const keys = new BigUint64Array(rows);
      const data = new Float32Array(rows * d);
      for (let r = 0; r < rows; r++) {
        keys[r] = BigInt(this.vectors.owner(first + r).key);
        data.set(this.vectors.row(first + r), r * d);
      }
      graph.add(keys, data);
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (this.vectors.size !== n) throw new Error('the collection changed while its graph was rebuilt');
    this.graphValue = graph;
  }

  get nextKey(): number {
    return this.nextKeyValue;
  }

  get nextSeq(): number {
    return this.nextSeqValue;
  }

  /** Fills an empty state from a snapshot: records in row order, their vectors already in `fill`. */
  load(records: FaceRecord[], fill: (chunk: Float32Array, firstRow: number, rows: number) => void): void {
    this.vectors.bulkLoad(records, fill);
    for (const rec of records) {
      if (this.byId.has(rec.id)) throw new FaceIndexError('INDEX_CORRUPT', `snapshot holds face ${rec.id} twice`);
      this.byId.set(rec.id, rec);
      this.byKey.set(rec.key, rec);
      this.payloads.add(rec);
    }
    this.order.reset(records);
  }

  /** Applies one logged op; returns what the call that made it resolves with. */
  apply(op: WalOp): number | undefined {
    switch (op.t) {
      case 'u':
        this.upsert(op.ids, op.payloads, op.vectors);
        return undefined;
      case 'd':
        return this.delete(op.ids, filterTerms(op.filter));
      case 's':
        this.setPayload(op.ids, op.set, op.unset);
        return undefined;
    }
  }

  private upsert(ids: string[], payloads: FacePayload[], vectors: Float32Array): void {
    const d = this.dimensions;
    const keys = new BigUint64Array(ids.length);
    const stale: bigint[] = [];
    for (let i = 0; i < ids.length; i++) {
      let rec = this.byId.get(ids[i]);
      if (rec) {
        stale.push(BigInt(rec.key));
        this.byKey.delete(rec.key);
        this.payloads.remove(rec);
        rec.key = this.nextKeyValue++;
        rec.payload = payloads[i];
        this.vectors.set(rec, vectors, i * d);
      } else {
        rec = { id: ids[i], seq: this.nextSeqValue++, key: this.nextKeyValue++, row: -1, payload: payloads[i] };
        this.vectors.push(rec, vectors, i * d);
        this.byId.set(rec.id, rec);
        this.order.append(rec);
      }
      this.byKey.set(rec.key, rec);
      this.payloads.add(rec);
      keys[i] = BigInt(rec.key);
    }
    this.graph.remove(BigUint64Array.from(stale));
    this.graph.add(keys, vectors);
  }

  private delete(ids: string[] | undefined, terms: Terms): number {
    // A set: an id listed twice is deleted (and counted) once.
    const doomed = new Set<FaceRecord>();
    if (ids) {
      for (const id of ids) {
        const rec = this.byId.get(id);
        if (rec && matchesTerms(rec.payload, terms)) doomed.add(rec);
      }
    } else if (terms.length > 0) {
      for (const rec of this.payloads.matching(terms)) doomed.add(rec);
    }
    const keys = new BigUint64Array(doomed.size);
    let i = 0;
    for (const rec of doomed) {
      keys[i++] = BigInt(rec.key);
      this.byId.delete(rec.id);
      this.byKey.delete(rec.key);
      this.payloads.remove(rec);
      this.vectors.remove(rec);
      this.order.removed();
    }
    this.graph.remove(keys);
    return doomed.size;
  }

  private setPayload(ids: string[], set: Record<string, unknown>, unset: string[]): void {
    for (const id of ids) {
      const rec = this.byId.get(id);
      if (!rec) continue;
      this.payloads.remove(rec);
      const next: FacePayload = { ...rec.payload, ...set };
      for (const k of unset) delete next[k];
      rec.payload = next;
      this.payloads.add(rec);
    }
  }

  // ── queries ────────────────────────────────────────────────────────────────────────────────

  count(terms: Terms): number {
    return terms.length === 0 ? this.byId.size : this.payloads.count(terms);
  }

  get(ids: string[]): (Hit | null)[] {
    return ids.map((id) => {
      const rec = this.byId.get(id);
      return rec ? { id, score: 1, payload: structuredClone(rec.payload) } : null;
    });
  }

  /**
   * A unit-length copy of each face's stored vector, or null. A vector stored at unit length to
   * float32 precision (what embedders give) comes back bit for bit, which the persistence tests rely on.
   */
  vectorsOf(ids: string[]): (Float32Array | null)[] {
    return ids.map((id) => {
      const rec = this.byId.get(id);
      if (!rec) return null;
      const v = this.vectors.row(rec.row).slice();
      const norm = Math.sqrt(squaredNorm(v));
      if (Math.abs(norm - 1) > 1e-6) for (let i = 0; i < v.length; i++) v[i] /= norm;
      return v;
    });
  }

  search(query: Float32Array, k: number, terms: Terms, exact: boolean, tuning: SearchTuning): Hit[] {
    // Our own offset-0 copy: usearch's exactSearch ignores a typed array's byteOffset.
    const q = Float32Array.from(query);
    const qNorm2 = squaredNorm(q);
    const n = this.byId.size;
    if (n === 0) return [];

    if (terms.length === 0) {
      const wanted = Math.max(k, tuning.expansionSearch);
      // Asking the graph for every face costs more than scanning them, and HNSW does not promise to
      // reach every node even then (a multi-threaded build can leave one unreachable): scan.
      if (exact || wanted >= n) return this.scanAll(q, qNorm2, k, tuning.exactThreads);
      const top = this.rescore(q, qNorm2, this.graph.search(q, wanted), k, terms, tuning.graphIsExact);
      // The graph returns fewer than it holds only in degenerate cases (tiny or heavily deleted
      // graphs); an answer must never come up short, so scan then.
      return top.length < Math.min(k, n) ? this.scanAll(q, qNorm2, k, tuning.exactThreads) : top;
    }

    const candidates = this.payloads.candidates(terms)!;
    const m = candidates.size;
    if (m === 0) return [];
    if (exact || m <= tuning.exactFilterMax) return this.scanSet(q, qNorm2, k, candidates, terms);

    // A large filtered set: ask the graph for enough candidates that about 2k of them should pass
    // the filter, and widen until k pass. Scanning the set costs ~m distances in JS; the graph
    // ~wanted × connectivity native ones (about 8× cheaper each): switch to the scan once that is
    // the cheaper side, or when the graph gives out (it returned fewer than asked), so a filtered
    // search never comes up short.
    let wanted = Math.max(tuning.expansionSearch, Math.ceil((2 * k * n) / m));
    for (;;) {
      if (wanted >= n || m * 8 <= wanted * tuning.connectivity) return this.scanSet(q, qNorm2, k, candidates, terms);
      const keys = this.graph.search(q, wanted);
      const top = this.rescore(q, qNorm2, keys, k, terms, tuning.graphIsExact);
      if (top.length >= k) return top;
      if (keys.length < wanted) return this.scanSet(q, qNorm2, k, candidates, terms);
      wanted *= 4;
    }
  }

  /** The best k of the graph's candidates (best first) that pass the filter, exactly scored. */
  private rescore(q: Float32Array, qNorm2: number, keys: BigUint64Array, k: number, terms: Terms, graphIsExact: boolean): Hit[] {
    const top = new TopK<FaceRecord>(k);
    const depth = graphIsExact ? k : Math.max(4 * k, 64);
    let taken = 0;
    for (let i = 0; i < keys.length && taken < depth; i++) {
      const rec = this.byKey.get(Number(keys[i]));
      if (!rec || (terms.length > 0 && !matchesTerms(rec.payload, terms))) continue;
      top.push(cosine(q, qNorm2, this.vectors.row(rec.row)), rec);
      taken++;
    }
    return toHits(top);
  }

  private scanSet(q: Float32Array, qNorm2: number, k: number, set: ReadonlySet<FaceRecord>, terms: Terms): Hit[] {
    const top = new TopK<FaceRecord>(k);
    const check = terms.length > 1;
    for (const rec of set) {
      if (check && !matchesTerms(rec.payload, terms)) continue;
      top.push(cosine(q, qNorm2, this.vectors.row(rec.row)), rec);
    }
    return toHits(top);
  }

  /** Brute force over every row: usearch's native SIMD scan per chunk, re-scored exactly here. */
  private scanAll(q: Float32Array, qNorm2: number, k: number, threads: number): Hit[] {
    const top = new TopK<FaceRecord>(k);
    for (const { data, rows, firstRow } of this.vectors.matrices()) {
      const found = exactSearch(data, q, this.dimensions, Math.min(k, rows), MetricKind.Cos, threads);
      for (const offset of found.keys) {
        const row = firstRow + Number(offset);
        top.push(cosine(q, qNorm2, this.vectors.row(row)), this.vectors.owner(row));
      }
    }
    return toHits(top);
  }

  /**
   * One page of the (filtered) scroll order after seq `after`, plus whether more follow. A small
   * filtered set is sorted directly; otherwise the global order is walked and filtered.
   */
  scroll(terms: Terms, after: number, limit: number): { recs: FaceRecord[]; more: boolean } {
    const out: FaceRecord[] = [];
    const set = terms.length > 0 ? this.payloads.candidates(terms)! : null;
    if (set !== null && set.size * 16 <= this.byId.size) {
      for (const rec of set) if (rec.seq > after && matchesTerms(rec.payload, terms)) out.push(rec);
      out.sort((a, b) => a.seq - b.seq);
      return { recs: out.slice(0, limit), more: out.length > limit };
    }
    for (const rec of this.order.from(after)) {
      if (set !== null && !matchesTerms(rec.payload, terms)) continue;
      if (out.length === limit) return { recs: out, more: true };
      out.push(rec);
    }
    return { recs: out, more: false };
  }
}

function toHits(top: TopK<FaceRecord>): Hit[] {
  return top.drain().map(({ score, item }) => ({ id: item.id, score, payload: structuredClone(item.payload) }));
}
