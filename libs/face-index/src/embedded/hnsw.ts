/**
 * A thin adapter over usearch's HNSW index: numeric keys in, approximate nearest keys out.
 * Everything usearch-specific (bigint keys, thread contexts) stays here. With a projection, the
 * graph holds each vector projected (projection.ts) and projects queries the same way; callers
 * always pass the collection's full vectors.
 */
import { Index, MetricKind, ScalarKind } from 'usearch';
import { FaceIndexError } from '../errors';
import type { Projection } from './projection';

export type HnswQuantization = 'f32' | 'f16' | 'bf16' | 'i8';

export interface HnswParams {
  /** Graph degree (usearch `connectivity`, HNSW's M). */
  connectivity: number;
  /** Candidate list size while inserting (HNSW's efConstruction). */
  expansionAdd: number;
  /** How the graph stores its copy of the vectors; scores always come from the exact float32 rows. */
  quantization: HnswQuantization;
  /**
   * Threads for a batch insert. Always the same number: usearch sizes its per-thread contexts when
   * it grows, from the `threads` of the insert that made it grow, and an insert that later asks
   * for more threads than there are contexts fails ("No available threads to lock").
   */
  threads: number;
}

const QUANTIZATION: Record<HnswQuantization, ScalarKind> = {
  f32: ScalarKind.F32,
  f16: ScalarKind.F16,
  bf16: ScalarKind.BF16,
  i8: ScalarKind.I8,
};

export class HnswGraph {
  private constructor(
    private readonly index: Index,
    /** The collection's dimension: what `add` and `search` take. */
    readonly dimensions: number,
    private readonly params: HnswParams,
    readonly projection: Projection | null,
  ) {}

  static create(dimensions: number, params: HnswParams, projection: Projection | null = null): HnswGraph {
    return new HnswGraph(HnswGraph.make(projection?.to ?? dimensions, params), dimensions, params, projection);
  }

  /** Loads a graph saved by `save`; INDEX_CORRUPT when usearch cannot read it or it does not fit. */
  static load(file: string, dimensions: number, params: HnswParams, projection: Projection | null = null): HnswGraph {
    const stored = projection?.to ?? dimensions;
    const index = HnswGraph.make(stored, params);
    try {
      index.load(file);
    } catch (err) {
      throw new FaceIndexError('INDEX_CORRUPT', `cannot load the HNSW graph ${file}: ${(err as Error).message}`, { cause: err });
    }
    // A saved graph carries its own dimension and usearch adopts it silently.
    if (index.dimensions() !== stored) {
      throw new FaceIndexError('INDEX_CORRUPT', `HNSW graph ${file} has ${index.dimensions()} dimensions, expected ${stored}`);
    }
    return new HnswGraph(index, dimensions, params, projection);
  }

  private static make(dimensions: number, params: HnswParams): Index {
    return new Index({
      dimensions,
      metric: MetricKind.Cos,
      quantization: QUANTIZATION[params.quantization],
      connectivity: params.connectivity,
      expansion_add: params.expansionAdd,
      // Searches pass their own candidate count (`wanted`); usearch explores max(wanted, this).
      expansion_search: 1,
      multi: false,
    });
  }

  /** An empty graph with the same settings, for the same collection, over `projection`. */
  emptyLike(projection: Projection | null): HnswGraph {
    return HnswGraph.create(this.dimensions, this.params, projection);
  }

  get size(): number {
    return this.index.size();
  }

  /** Adds `keys.length` rows of `vectors` (offset 0, row-major). Keys must not be present. */
  add(keys: BigUint64Array, vectors: Float32Array): void {
    if (keys.length === 0) return;
    this.index.add(keys, this.projection ? this.projection.apply(vectors, keys.length) : vectors, this.params.threads);
  }

  remove(keys: BigUint64Array): void {
    if (keys.length > 0) this.index.remove(keys);
  }

  /**
   * Up to `wanted` approximate nearest keys, best first. `wanted` doubles as HNSW's ef: usearch
   * explores max(expansion_search, wanted) candidates, so asking for more is how search effort is
   * tuned per call.
   */
  search(query: Float32Array, wanted: number): BigUint64Array {
    if (this.index.size() === 0) return new BigUint64Array(0);
    const q = this.projection ? this.projection.apply(query, 1) : query;
    // One thread: usearch otherwise spawns hardware_concurrency threads per call for one query.
    return this.index.search(q, wanted, 1).keys;
  }

  save(file: string): void {
    this.index.save(file);
  }
}
