/**
 * The face index: vectors of faces plus a small JSON payload each, searched by cosine similarity.
 * Every backend (the embedded one here, Qdrant later) implements this interface and passes the same
 * conformance suite (`conformance/face-index.conformance.ts`), so callers never depend on which one
 * runs.
 */

export interface IndexedFace {
  /** Stable face id, derived by the caller from (collection, photo key, face index). */
  id: string;
  /** L2-normalised, of the collection's fixed dimension. */
  vector: Float32Array;
  payload: FacePayload;
}

export type FaceKind = 'identity' | 'person';

export interface FacePayload {
  /** The photo the face came from. */
  photoKey: string;
  jobId?: string;
  /** Cluster of unknown faces, or identity id. */
  personId?: string;
  identityId?: string;
  /**
   * What the face belongs to: `identity` (enrolled, or a person named into an identity; searched by
   * 1:N search) or `person` (an ingested face grouped into an unknown person).
   */
  kind?: FaceKind;
  box?: [number, number, number, number];
  score?: number;
  quality?: number;
  createdAt?: string;
  /** Anything else; must be JSON-serialisable. */
  [extra: string]: unknown;
}

/** Equality on payload fields; every field given must match (AND). An empty filter matches all. */
export interface FaceFilter {
  photoKey?: string;
  personId?: string;
  identityId?: string;
  jobId?: string;
  kind?: FaceKind;
}

export interface Hit {
  id: string;
  /** Cosine similarity in [−1, 1]; 1 for `get`. */
  score: number;
  payload: FacePayload;
}

export interface SearchOptions {
  /** How many hits at most (a positive integer). */
  k: number;
  filter?: FaceFilter;
  /** Brute force over every (filtered) vector instead of the approximate graph. */
  exact?: boolean;
}

export interface DeleteSelector {
  ids?: string[];
  filter?: FaceFilter;
}

export interface ScrollOptions {
  filter?: FaceFilter;
  /** `next` of the previous page; absent for the first page. */
  cursor?: string;
  limit: number;
}

export interface ScrollPage {
  items: Hit[];
  /** Present when there may be more items; pass it as `cursor` to get them. */
  next?: string;
}

export interface FaceIndex {
  /**
   * Creates the collection, or does nothing when it exists with the same dimension
   * (DIMENSION_MISMATCH when it exists with another one).
   */
  ensureCollection(name: string, dimensions: number): Promise<void>;
  /** Removes the collection and everything in it (COLLECTION_NOT_FOUND when there is none). */
  dropCollection(name: string): Promise<void>;
  /**
   * Idempotent by id: re-upserting an id replaces its vector and payload. When one call holds the
   * same id twice, the last one wins. Resolves once the write is durable (survives a crash).
   */
  upsert(collection: string, faces: IndexedFace[]): Promise<void>;
  /** Nearest first, by cosine similarity. Hits all satisfy `filter`. */
  search(collection: string, vector: Float32Array, opts: SearchOptions): Promise<Hit[]>;
  /** One entry per id, in order: the face (score 1), or null when there is none. */
  get(collection: string, ids: string[]): Promise<(Hit | null)[]>;
  /**
   * One entry per id, in order: the face's vector scaled to unit length (cosine is all any caller
   * compares, and Qdrant stores cosine vectors normalised), or null when there is none.
   */
  getVectors(collection: string, ids: string[]): Promise<(Float32Array | null)[]>;
  /**
   * Shallow-merges `patch` into the payload of each id that exists (missing ids are skipped). A key
   * whose value is `undefined` is removed from the payload (e.g. `{ personId: undefined }`).
   */
  setPayload(collection: string, ids: string[], patch: Partial<FacePayload>): Promise<void>;
  /**
   * Deletes the faces with the given ids (and, when a filter is given too, only those that match it),
   * or every face matching the filter. Returns how many were deleted. A selector with neither ids nor
   * a non-empty filter is refused (INVALID_ARGUMENT) rather than read as "delete everything".
   */
  delete(collection: string, selector: DeleteSelector): Promise<number>;
  count(collection: string, filter?: FaceFilter): Promise<number>;
  /** Pages through the (filtered) faces in a stable order; each face appears once. */
  scroll(collection: string, opts: ScrollOptions): Promise<ScrollPage>;
  /** Flushes and releases everything; the index refuses further calls (INDEX_CLOSED). */
  close(): Promise<void>;
}
