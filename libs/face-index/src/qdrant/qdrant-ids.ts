/**
 * Face ids ↔ Qdrant point ids. Qdrant accepts only unsigned integers or UUIDs as point ids, while
 * our face ids are arbitrary strings, so each face id is mapped to a name-based UUID (RFC 9562
 * version 5: SHA-1 of a fixed namespace + the id). The mapping is deterministic, so re-upserting a
 * face overwrites the same point (idempotence) and keeps its place in scroll order; the original id
 * rides in the payload under FACE_ID_KEY, because a hash cannot be turned back into the id.
 */
import { createHash } from 'node:crypto';

/** facepipe's namespace for face ids (random, fixed forever: changing it would orphan every point). */
export const FACE_ID_NAMESPACE = '7c85a845-f46a-42a3-99cd-1b07faae46a5';

/** Payload key that holds the face id; reserved, so a caller's payload may not use it. */
export const FACE_ID_KEY = '__faceId';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** RFC 9562 UUIDv5 of `name` (UTF-8) in `namespace`. */
export function uuidV5(name: string, namespace: string): string {
  if (!isUuid(namespace)) throw new Error(`namespace ${namespace} is not a UUID`);
  const hash = createHash('sha1').update(Buffer.from(namespace.replace(/-/g, ''), 'hex')).update(name, 'utf8').digest();
  hash[6] = (hash[6] & 0x0f) | 0x50; // version 5
  hash[8] = (hash[8] & 0x3f) | 0x80; // RFC variant
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The Qdrant point id of a face id (lower-case UUID, as Qdrant returns it). */
export function pointIdOf(faceId: string): string {
  return uuidV5(faceId, FACE_ID_NAMESPACE);
}
