import os from 'node:os';
import type { SearchOptions } from '../face-index';
import type { HnswQuantization } from './hnsw';
import { PROJECTION_REBUILD_MAX } from './projection';
import type { FaceIndexError } from '../errors';

export interface EmbeddedFaceIndexOptions {
  /**
   * HNSW graph degree (M) for collections created by this process; existing collections keep the
   * value they were created with. Default 32.
   */
  connectivity?: number;
  /** HNSW candidate list while inserting (efConstruction), for new collections. Default 128. */
  expansionAdd?: number;
  /**
   * HNSW candidate list while searching (ef): more is slower and finds more of the true nearest.
   * Default 768; see bench/index.ts for the trade-off. Per call: `search(…, { expansionSearch })`.
   */
  expansionSearch?: number;
  /**
   * How the graph stores its own copy of each vector (new collections): 'i8' (default) a quarter
   * of 'f32''s memory and much faster inserts. Scores always come from the exact float32 vectors,
   * and a quantized graph's candidates are re-ranked on them.
   */
  quantization?: HnswQuantization;
  /** Checkpoint a collection after this many WAL records (group commits). Default 10,000. */
  checkpointEvery?: number;
  /** …or once its WAL reaches this many bytes. Default 256 MiB. */
  checkpointBytes?: number;
  /** Filtered searches whose candidate set is at most this large scan it exactly. Default 2,048. */
  exactFilterMax?: number;
  /**
   * Project the graph onto the dimensions that carry a collection's vectors (projection.ts): fitted
   * once, at the first checkpoint with at least `projectionFrom` faces (and at most 100,000), and
   * kept only where it drops a quarter of the dimensions or more. Default true. False stops new
   * fits; a collection that already has a projection keeps it (it is part of its saved graph).
   */
  projection?: boolean;
  /** Faces a collection needs before its projection is fitted (at most 100,000). Default 20,000. */
  projectionFrom?: number;
  /** Threads for batch inserts and brute-force scans. Default min(available cores, 8). */
  threads?: number;
  /** Observability hook, called synchronously (keep it cheap; never throw from it). */
  onEvent?: (event: FaceIndexEvent) => void;
}

export type FaceIndexEvent =
  | {
      type: 'checkpoint';
      collection: string;
      /**
       * start → written (snapshot files durable, not yet current) → committed (manifest switched)
       * → end (old generation deleted); or failed (the previous snapshot and WAL stay current).
       */
      phase: 'start' | 'written' | 'committed' | 'end' | 'failed';
      generation: number;
      faces: number;
      ms?: number;
      error?: unknown;
    }
  | {
      type: 'projection';
      collection: string;
      faces: number;
      from: number;
      /** The graph's dimensions from now on; null when no projection was worth making. */
      to: number | null;
      ms: number;
    }
  | {
      /**
       * The collection stopped taking writes until the index is reopened (a failed fsync of its
       * log, or a logged write that could not be applied): only a reopen, which replays the log,
       * makes memory and disk agree again. Emitted once per collection.
       */
      type: 'failed';
      collection: string;
      error: FaceIndexError;
    }
  | {
      type: 'recovered';
      collection: string;
      generation: number;
      faces: number;
      /** WAL records replayed on top of the snapshot. */
      replayedRecords: number;
      /** Bytes of a torn final WAL record that were dropped. */
      tornBytes: number;
      ms: number;
    };

/** Search options of the embedded index: the common ones plus per-call graph effort. */
export interface EmbeddedSearchOptions extends SearchOptions {
  /** HNSW ef for this call (default: the index's `expansionSearch`). */
  expansionSearch?: number;
}

export type ResolvedOptions = Required<Omit<EmbeddedFaceIndexOptions, 'onEvent'>> & Pick<EmbeddedFaceIndexOptions, 'onEvent'>;

/**
 * Defaults, chosen with bench/index.ts (2 cores): M=32 reaches a given recall at a lower latency
 * than M=16, and M=48 with expansion_add 256 at the same latency (at a 2.3× slower build); an i8
 * graph builds ≈ 2× faster than f16 and loses no recall once its first max(4k, 64) candidates are
 * re-ranked on the float32 vectors (re-ranking all ef candidates changed nothing: what a search
 * misses, the graph never reached). ef 768 is the smallest tried that gives recall@10 ≥ 0.99 at 1M
 * faces of the calibrated face model (0.993; ef 512: 0.986); at 100k ef 192 would do. It costs
 * p50 8.2 ms per query at 1M with the projected graph: lower it per call (`expansionSearch`) where
 * latency matters more than the last percent of recall.
 */
export const EMBEDDED_INDEX_DEFAULTS = {
  connectivity: 32,
  expansionAdd: 128,
  expansionSearch: 768,
  quantization: 'i8' as HnswQuantization,
  checkpointEvery: 10_000,
  checkpointBytes: 256 * 1024 * 1024,
  exactFilterMax: 2048,
  projection: true,
  projectionFrom: 20_000,
} as const;

export function resolveOptions(o: EmbeddedFaceIndexOptions): ResolvedOptions {
  const d = EMBEDDED_INDEX_DEFAULTS;
  const positive = (name: string, v: number | undefined, dflt: number, max = Number.MAX_SAFE_INTEGER) => {
    const value = v ?? dflt;
    if (!Number.isInteger(value) || value < 1 || value > max) throw new RangeError(`${name} must be an integer in [1, ${max}], got ${value}`);
    return value;
  };
  const quantization = o.quantization ?? d.quantization;
  if (!['f32', 'f16', 'bf16', 'i8'].includes(quantization)) throw new RangeError(`quantization must be f32, f16, bf16 or i8, got ${quantization}`);
  return {
    connectivity: positive('connectivity', o.connectivity, d.connectivity, 256),
    expansionAdd: positive('expansionAdd', o.expansionAdd, d.expansionAdd, 4096),
    expansionSearch: positive('expansionSearch', o.expansionSearch, d.expansionSearch, 100_000),
    quantization,
    checkpointEvery: positive('checkpointEvery', o.checkpointEvery, d.checkpointEvery),
    checkpointBytes: positive('checkpointBytes', o.checkpointBytes, d.checkpointBytes),
    exactFilterMax: positive('exactFilterMax', o.exactFilterMax, d.exactFilterMax),
    projection: o.projection ?? d.projection,
    projectionFrom: positive('projectionFrom', o.projectionFrom, d.projectionFrom, PROJECTION_REBUILD_MAX),
    threads: positive('threads', o.threads, Math.max(1, Math.min(os.availableParallelism(), 8)), 256),
    onEvent: o.onEvent,
  };
}
