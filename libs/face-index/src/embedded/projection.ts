/**
 * The graph's projection: a linear map from a collection's D dimensions onto the P principal
 * directions that carry its vectors' energy.
 *
 * Why: face embedders do not fill their space. The default one puts 99.9% of its vectors' energy
 * in 160 of 512 dimensions, and projected cosines keep every photo's true top 10 on ../shared/faces
 * (bench/accuracy.ts checks it on real embeddings). An HNSW search is bound by
 * memory traffic, one stored vector per distance, so a graph over P = 160 instead of 512
 * dimensions searches 1.5–2× faster and builds 2× faster at the same recall. Only the graph is
 * projected: every score is still the exact cosine on the stored float32 vectors (the graph's
 * candidates are re-ranked on them), so what the projection drops can only cost recall, which
 * bench/index.ts measures.
 *
 * Fitted once per collection (EmbeddedCollection decides when) on the uncentred second moments
 * of a sample: cosine similarity is about directions from the origin, not from the mean. P is the
 * smallest multiple of 16 that keeps `energy` of the sample's energy. Where that is most of D (an
 * embedder that spreads over its whole space), there is nothing to gain and no projection is made.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

export interface ProjectionFit {
  /** Share of the sample's energy (sum of squares) the kept directions must hold. */
  energy: number;
  /** No projection when P would exceed this share of D. */
  maxShare: number;
}

export const PROJECTION_FIT: ProjectionFit = { energy: 0.999, maxShare: 0.75 };

/** Rows used for the fit: enough to pin down the leading directions, cheap enough to do inline. */
export const PROJECTION_SAMPLE = 4096;

/**
 * The fit blocks its thread: the moments cost rows × D² / 2 and the eigensolver D³, ≈ 2 s at
 * D = 512 here. Beyond 1,024 dimensions (≈ 8× that) no projection is fitted.
 */
export const PROJECTION_MAX_DIMENSIONS = 1024;

/**
 * A collection first checkpointed with more faces than this keeps its unprojected graph: the
 * rebuild (≈ 30 s of both cores per 100k faces here) holds its writes meanwhile. A new collection
 * is fitted at `projectionFrom` plus at most one write group (≤ 64 MiB, ≈ 15k faces): the limit only
 * keeps collections that predate the projection, or have it turned on late, from a long rebuild.
 */
export const PROJECTION_REBUILD_MAX = 100_000;

export class Projection {
  /**
   * @param matrix `to` rows of `from` values (row-major), orthonormal rows: the kept directions.
   */
  constructor(
    readonly from: number,
    readonly to: number,
    readonly matrix: Float32Array,
  ) {
    if (matrix.length !== from * to) throw new RangeError(`a ${to}×${from} projection needs ${from * to} values, got ${matrix.length}`);
  }

  /**
   * Fits a projection to `rows` vectors of `dims` (row-major, unit length or not). Null when the
   * vectors need more than `maxShare` of the dimensions, or there are too few to tell.
   */
  static fit(sample: Float32Array, rows: number, dims: number, fit: ProjectionFit = PROJECTION_FIT): Projection | null {
    if (rows < dims) return null; // fewer rows than dimensions: the moments say little
    if (dims > PROJECTION_MAX_DIMENSIONS) return null;
    // Upper triangle of Σ x xᵀ, in float64.
    const m = new Float64Array(dims * dims);
    for (let r = 0; r < rows; r++) {
      const o = r * dims;
      for (let i = 0; i < dims; i++) {
        const xi = sample[o + i];
        if (xi === 0) continue;
        const mi = i * dims;
        for (let j = i; j < dims; j++) m[mi + j] += xi * sample[o + j];
      }
    }
    const full: number[][] = [];
    for (let i = 0; i < dims; i++) {
      const row = new Array<number>(dims);
      for (let j = 0; j < dims; j++) row[j] = i <= j ? m[i * dims + j] : m[j * dims + i];
      full.push(row);
    }
    const eig = new EigenvalueDecomposition(new Matrix(full), { assumeSymmetric: true });
    // ml-matrix returns a symmetric matrix's eigenvalues in ascending order.
    const values = eig.realEigenvalues;
    const order = values.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]);
    const total = order.reduce((s, [v]) => s + Math.max(0, v), 0);
    if (!(total > 0)) return null;
    let kept = 0, p = 0;
    while (p < dims && kept < fit.energy * total) kept += Math.max(0, order[p++][0]);
    const to = Math.min(dims, Math.ceil(p / 16) * 16);
    if (to > fit.maxShare * dims) return null;
    const vectors = eig.eigenvectorMatrix;
    const matrix = new Float32Array(to * dims);
    for (let r = 0; r < to; r++) {
      const col = order[r][1];
      for (let j = 0; j < dims; j++) matrix[r * dims + j] = vectors.get(j, col);
    }
    return new Projection(dims, to, matrix);
  }

  /** `rows` vectors of `from` values → `rows` unit vectors of `to` values (int8 graphs want unit length). */
  apply(vectors: Float32Array, rows: number): Float32Array {
    const { from, to, matrix } = this;
    const out = new Float32Array(rows * to);
    for (let r = 0; r < rows; r++) {
      const src = vectors.subarray(r * from, (r + 1) * from);
      let norm2 = 0;
      for (let p = 0; p < to; p++) {
        const mo = p * from;
        let s = 0;
        for (let j = 0; j < from; j++) s += matrix[mo + j] * src[j];
        out[r * to + p] = s;
        norm2 += s * s;
      }
      // A vector (almost) orthogonal to every kept direction stays as it is: the graph then places
      // it poorly, and the exact re-ranking of candidates is what still finds it.
      if (norm2 > 0) {
        const inv = 1 / Math.sqrt(norm2);
        for (let p = 0; p < to; p++) out[r * to + p] *= inv;
      }
    }
    return out;
  }
}
