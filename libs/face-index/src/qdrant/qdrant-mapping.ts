/**
 * Pure translations between the FaceIndex vocabulary and Qdrant's REST shapes: filters, points,
 * hits, payload patches, scroll cursors and collection names. No I/O, so all of it is unit-tested
 * without a server.
 */
import type { Schemas } from '@qdrant/js-client-rest' with { 'resolution-mode': 'import' };
import { FaceIndexError } from '../errors';
import type { FacePayload, Hit, IndexedFace } from '../face-index';
import type { FilterField } from '../validation';
import { COLLECTION_NAME } from '../validation';
import { FACE_ID_KEY, isUuid, pointIdOf } from './qdrant-ids';

export type QdrantFilter = Schemas['Filter'];
export type QdrantCondition = Schemas['Condition'];

/** A Qdrant collection name prefix: the same alphabet as FACEPIPE_PREFIX. */
export const COLLECTION_PREFIX = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The Qdrant collection that holds facepipe collection `name`: `<prefix>_<name>`. Null when `name`
 * is not a valid collection name (such a collection cannot exist).
 */
export function qdrantCollectionName(prefix: string, name: string): string | null {
  if (typeof name !== 'string' || !COLLECTION_NAME.test(name)) return null;
  return `${prefix}_${name}`;
}

/**
 * AND of the filter terms (keyword equality, served by the payload indexes), optionally restricted
 * to some points. Undefined when nothing constrains (Qdrant's "no filter").
 */
export function toQdrantFilter(terms: readonly (readonly [FilterField, string])[], pointIds?: readonly string[]): QdrantFilter | undefined {
  const must: QdrantCondition[] = [];
  if (pointIds !== undefined) must.push({ has_id: [...pointIds] });
  for (const [key, value] of terms) must.push({ key, match: { value } });
  return must.length > 0 ? { must } : undefined;
}

/** Refuses a payload or patch that would overwrite the reserved id key. */
export function checkNoReservedKey(payload: object, what: string): void {
  if (Object.prototype.hasOwnProperty.call(payload, FACE_ID_KEY)) {
    throw new FaceIndexError('INVALID_ARGUMENT', `${what} must not hold the reserved key ${FACE_ID_KEY}`);
  }
}

/** The Qdrant point of a (validated) face: UUID id, plain number vector, payload + the face id. */
export function toPoint(face: IndexedFace): Schemas['PointStruct'] {
  return {
    id: pointIdOf(face.id),
    vector: Array.from(face.vector),
    payload: { ...face.payload, [FACE_ID_KEY]: face.id },
  };
}

/** A stored point back as a Hit; INDEX_CORRUPT when the point was not written by facepipe. */
export function toHit(point: { id: Schemas['ExtendedPointId']; payload?: Record<string, unknown> | null }, score: number): Hit {
  const { [FACE_ID_KEY]: id, ...payload } = point.payload ?? {};
  if (typeof id !== 'string' || pointIdOf(id) !== String(point.id).toLowerCase()) {
    throw new FaceIndexError('INDEX_CORRUPT', `Qdrant point ${String(point.id)} has no valid ${FACE_ID_KEY}: it was not written by facepipe`);
  }
  return { id, score, payload: payload as FacePayload };
}

/** A setPayload patch split into Qdrant's two operations: keys to set and keys to delete. */
export function splitPatch(patch: Partial<FacePayload>): { set: Record<string, unknown>; unset: string[] } {
  const set: Record<string, unknown> = {};
  const unset: string[] = [];
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) unset.push(key);
    else set[key] = value;
  }
  return { set, unset };
}

/** Our scroll cursor is Qdrant's next_page_offset: the point id (a UUID) to start from. */
export function parseCursor(cursor: unknown): string | undefined {
  if (cursor === undefined) return undefined;
  if (!isUuid(cursor)) throw new FaceIndexError('INVALID_ARGUMENT', `bad scroll cursor ${JSON.stringify(cursor)}`);
  return cursor.toLowerCase();
}

export function toCursor(nextPageOffset: unknown): string | undefined {
  if (nextPageOffset === undefined || nextPageOffset === null) return undefined;
  if (!isUuid(nextPageOffset)) {
    throw new FaceIndexError('INDEX_CORRUPT', `Qdrant returned a page offset ${JSON.stringify(nextPageOffset)} that is not a facepipe point id`);
  }
  return nextPageOffset;
}

/** A retrieved point's (unnamed, dense) vector as a unit Float32Array, or INDEX_CORRUPT. */
export function vectorOf(point: Pick<Schemas['Record'], 'id' | 'vector'>): Float32Array {
  const v = point.vector;
  if (!Array.isArray(v) || v.length === 0 || typeof v[0] !== 'number') {
    throw new FaceIndexError('INDEX_CORRUPT', `Qdrant point ${String(point.id)} has no single dense vector: it was not written by facepipe`);
  }
  const out = Float32Array.from(v as number[]);
  // Qdrant normalises cosine vectors on write; normalise again so the contract holds to f32 precision.
  let s = 0;
  for (const x of out) s += x * x;
  const norm = Math.sqrt(s);
  for (let i = 0; i < out.length; i++) out[i] /= norm;
  return out;
}

/** The single unnamed cosine vector of a collection facepipe created, or INDEX_CORRUPT. */
export function vectorSizeOf(info: Pick<Schemas['CollectionInfo'], 'config'>, collection: string): number {
  const vectors = info.config.params.vectors as Partial<Schemas['VectorParams']> | undefined;
  if (!vectors || typeof vectors.size !== 'number') {
    throw new FaceIndexError('INDEX_CORRUPT', `Qdrant collection ${collection} has no single unnamed vector: it was not created by facepipe`);
  }
  if (vectors.distance !== 'Cosine') {
    throw new FaceIndexError('INDEX_CORRUPT', `Qdrant collection ${collection} uses ${String(vectors.distance)} distance, not Cosine`);
  }
  return vectors.size;
}

/** Splits a list into consecutive chunks of at most `size` items. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
