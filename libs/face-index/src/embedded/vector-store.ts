/**
 * The exact vectors of a collection, one dense row each, in fixed-size chunks.
 *
 * Why keep them beside the graph (which holds a copy too): usearch's JS binding cannot hand a
 * vector back, and `get`, exact search, filtered scans and re-scoring need the original float32
 * values. Why dense: a brute-force scan then runs over whole chunks with no holes, so usearch's
 * native `exactSearch` can scan a chunk as one matrix. Deleting a row moves the last row into the
 * hole (O(dimensions)), so rows stay dense without a free list.
 *
 * Each chunk is its own ArrayBuffer starting at offset 0: usearch's `exactSearch` reads a typed
 * array's underlying buffer from its start and ignores `byteOffset` (see README).
 */
export interface RowOwner {
  row: number;
}

/** Rows per chunk are chosen so a chunk holds about this many bytes. */
const CHUNK_BYTES = 64 * 1024 * 1024;
/** The last chunk grows by doubling from here, so that small collections stay small. */
const FIRST_CAPACITY = 64;

export class VectorStore<T extends RowOwner> {
  readonly chunkRows: number;
  private readonly chunks: Float32Array[] = [];
  private readonly owners: T[] = [];

  constructor(readonly dimensions: number) {
    this.chunkRows = Math.max(FIRST_CAPACITY, 2 ** Math.floor(Math.log2(CHUNK_BYTES / (4 * dimensions))));
  }

  get size(): number {
    return this.owners.length;
  }

  owner(row: number): T {
    return this.owners[row];
  }

  /** A view of a row (valid until the store is next modified). */
  row(row: number): Float32Array {
    const c = this.chunks[Math.floor(row / this.chunkRows)];
    const at = (row % this.chunkRows) * this.dimensions;
    return c.subarray(at, at + this.dimensions);
  }

  /**
   * Fills an empty store with `owners` (in row order); `fill` writes the vectors of rows
   * [firstRow, firstRow + rows) into `chunk`, straight from a snapshot file.
   */
  bulkLoad(owners: T[], fill: (chunk: Float32Array, firstRow: number, rows: number) => void): void {
    if (this.owners.length > 0) throw new Error('bulkLoad needs an empty store');
    for (let firstRow = 0; firstRow < owners.length; firstRow += this.chunkRows) {
      const rows = Math.min(this.chunkRows, owners.length - firstRow);
      const chunk = new Float32Array(Math.max(rows, Math.min(FIRST_CAPACITY, this.chunkRows)) * this.dimensions);
      fill(chunk, firstRow, rows);
      this.chunks.push(chunk);
    }
    owners.forEach((o, row) => {
      o.row = row;
      this.owners.push(o);
    });
  }

  /** Appends `vector` (its first `dimensions` values from `offset`), sets `owner.row`. */
  push(owner: T, source: Float32Array, offset = 0): void {
    const row = this.owners.length;
    const ci = Math.floor(row / this.chunkRows);
    const inChunk = row % this.chunkRows;
    if (ci === this.chunks.length) {
      this.chunks.push(new Float32Array(Math.min(FIRST_CAPACITY, this.chunkRows) * this.dimensions));
    } else if ((inChunk + 1) * this.dimensions > this.chunks[ci].length) {
      const grown = new Float32Array(Math.min(this.chunkRows, (this.chunks[ci].length / this.dimensions) * 2) * this.dimensions);
      grown.set(this.chunks[ci]);
      this.chunks[ci] = grown;
    }
    this.chunks[ci].set(source.subarray(offset, offset + this.dimensions), inChunk * this.dimensions);
    owner.row = row;
    this.owners.push(owner);
  }

  /** Overwrites the row of `owner` in place. */
  set(owner: T, source: Float32Array, offset = 0): void {
    this.row(owner.row).set(source.subarray(offset, offset + this.dimensions));
  }

  /** Removes the row of `owner`; the last row moves into its place (its owner's `row` follows). */
  remove(owner: T): void {
    const row = owner.row;
    const last = this.owners.length - 1;
    if (row !== last) {
      const moved = this.owners[last];
      this.row(row).set(this.row(last));
      moved.row = row;
      this.owners[row] = moved;
    }
    this.owners.pop();
    owner.row = -1;
    // Give memory back when the last chunk empties (keeps one spare chunk to avoid churn).
    const needed = Math.ceil(this.owners.length / this.chunkRows);
    while (this.chunks.length > needed + 1) this.chunks.pop();
  }

  /**
   * The rows as matrices: each chunk's data (offset 0, exactly `rows × dimensions` long) and the
   * row number of its first row.
   */
  *matrices(): Generator<{ data: Float32Array; rows: number; firstRow: number }> {
    for (let ci = 0; ci < this.chunks.length; ci++) {
      const firstRow = ci * this.chunkRows;
      const rows = Math.min(this.chunkRows, this.owners.length - firstRow);
      if (rows <= 0) return;
      yield { data: this.chunks[ci].subarray(0, rows * this.dimensions), rows, firstRow };
    }
  }
}

/** Cosine similarity of `q` (with precomputed squared norm) and `v`; 0 when `v` is all zeros. */
export function cosine(q: Float32Array, qNorm2: number, v: Float32Array): number {
  let dot = 0, n2 = 0;
  for (let i = 0; i < q.length; i++) {
    const x = v[i];
    dot += q[i] * x;
    n2 += x * x;
  }
  return n2 === 0 ? 0 : dot / Math.sqrt(qNorm2 * n2);
}

export function squaredNorm(v: Float32Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return s;
}
