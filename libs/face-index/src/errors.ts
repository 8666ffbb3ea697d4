/**
 * Stable error codes of the face index. The API returns them as-is, so a code, once published,
 * never changes meaning.
 */
export const FACE_INDEX_ERROR_CODES = [
  /** The collection does not exist (never created, or dropped). */
  'COLLECTION_NOT_FOUND',
  /** A vector's length differs from the collection's dimension, or a collection exists with another. */
  'DIMENSION_MISMATCH',
  /** Stored data failed a check (checksum, size, format); the index refuses to guess. */
  'INDEX_CORRUPT',
  /** Another live process owns the index directory. */
  'INDEX_LOCKED',
  /** A malformed argument: bad collection name, non-finite or zero vector, bad k, limit or cursor. */
  'INVALID_ARGUMENT',
  /** The index was closed. */
  'INDEX_CLOSED',
  /**
   * A write could not be made durable (disk full, I/O error). The collection refuses writes until the
   * index is reopened, because the state of the log on disk is then unknown.
   */
  'WRITE_FAILED',
  /**
   * A networked backend (Qdrant) could not be reached or failed: connection refused, time-out,
   * server error, refused API key. Transient causes were already retried; the caller may retry later.
   */
  'INDEX_UNAVAILABLE',
] as const;

export type FaceIndexErrorCode = (typeof FACE_INDEX_ERROR_CODES)[number];

export class FaceIndexError extends Error {
  override readonly name = 'FaceIndexError';

  constructor(
    readonly code: FaceIndexErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
