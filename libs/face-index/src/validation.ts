/**
 * Argument checks shared by every backend, so that they all refuse the same inputs with the same
 * codes (the conformance suite holds them to it).
 */
import { FaceIndexError } from './errors';
import type { FaceFilter, FacePayload } from './face-index';

/**
 * The same rule as the API's collection names (libs/contracts). The embedded index uses the name as
 * a directory name, so it must never hold a separator or a dot.
 */
export const COLLECTION_NAME = /^[a-z0-9_-]{1,64}$/;

/** Filterable payload fields, in a fixed order. */
export const FILTER_FIELDS = ['photoKey', 'personId', 'identityId', 'jobId', 'kind'] as const;
export type FilterField = (typeof FILTER_FIELDS)[number];

/** Upper bounds that keep one call's work and memory bounded. */
export const MAX_DIMENSIONS = 4096;
export const MAX_K = 10_000;
export const MAX_SCROLL_LIMIT = 10_000;

export function checkCollectionName(name: string): void {
  if (typeof name !== 'string' || !COLLECTION_NAME.test(name)) {
    throw new FaceIndexError('INVALID_ARGUMENT', `collection name ${JSON.stringify(name)} must match ${COLLECTION_NAME}`);
  }
}

export function checkDimensions(dimensions: number): void {
  if (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > MAX_DIMENSIONS) {
    throw new FaceIndexError('INVALID_ARGUMENT', `dimensions must be an integer in [1, ${MAX_DIMENSIONS}], got ${dimensions}`);
  }
}

/**
 * A vector must have the collection's length and a direction: NaN/Infinity would poison the graph
 * and a zero vector has no cosine with anything.
 */
export function checkVector(vector: Float32Array, dimensions: number, what = 'vector'): void {
  // Float32Array from another realm (a Jest vm context, a worker) fails `instanceof`; check the tag.
  if (!ArrayBuffer.isView(vector) || Object.prototype.toString.call(vector) !== '[object Float32Array]') {
    throw new FaceIndexError('INVALID_ARGUMENT', `${what} must be a Float32Array`);
  }
  if (vector.length !== dimensions) {
    throw new FaceIndexError('DIMENSION_MISMATCH', `${what} has ${vector.length} dimensions, the collection ${dimensions}`);
  }
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i] * vector[i];
  if (!Number.isFinite(sum)) throw new FaceIndexError('INVALID_ARGUMENT', `${what} holds a non-finite value`);
  if (sum === 0) throw new FaceIndexError('INVALID_ARGUMENT', `${what} is all zeros`);
}

export function checkFaceId(id: string): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > 512) {
    throw new FaceIndexError('INVALID_ARGUMENT', `face id must be a non-empty string of at most 512 characters`);
  }
}

export function checkPayload(payload: FacePayload, id: string): void {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new FaceIndexError('INVALID_ARGUMENT', `payload of face ${id} must be an object`);
  }
  if (typeof payload.photoKey !== 'string') {
    throw new FaceIndexError('INVALID_ARGUMENT', `payload of face ${id} needs a string photoKey`);
  }
}

export function checkK(k: number): void {
  if (!Number.isInteger(k) || k < 1 || k > MAX_K) {
    throw new FaceIndexError('INVALID_ARGUMENT', `k must be an integer in [1, ${MAX_K}], got ${k}`);
  }
}

export function checkScrollLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SCROLL_LIMIT) {
    throw new FaceIndexError('INVALID_ARGUMENT', `limit must be an integer in [1, ${MAX_SCROLL_LIMIT}], got ${limit}`);
  }
}

/** The filter's set fields as [field, value] pairs; `undefined` fields do not constrain. */
export function filterTerms(filter: FaceFilter | undefined): [FilterField, string][] {
  if (filter === undefined || filter === null) return [];
  if (typeof filter !== 'object') throw new FaceIndexError('INVALID_ARGUMENT', 'filter must be an object');
  const terms: [FilterField, string][] = [];
  for (const field of FILTER_FIELDS) {
    const value = filter[field];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw new FaceIndexError('INVALID_ARGUMENT', `filter.${field} must be a string`);
    terms.push([field, value]);
  }
  return terms;
}

export function matchesTerms(payload: FacePayload, terms: readonly [FilterField, string][]): boolean {
  for (const [field, value] of terms) if (payload[field] !== value) return false;
  return true;
}
