import { createHash } from 'node:crypto';
import { z } from 'zod';

export const COLLECTION_NAME = /^[a-z0-9_-]{1,64}$/;
/**
 * Photo keys: 1–512 characters without control characters (C0, DEL and C1: they would corrupt
 * logs and paths, and U+009B is a terminal escape), and valid Unicode: no lone surrogate (Redis
 * and the id hash store it as UTF-8, where every lone surrogate becomes U+FFFD, so two different
 * keys would collide into one photo) and no U+FFFD itself (the mark of a file name that was not
 * UTF-8, decoded lossily: the same collision).
 */
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
export const PHOTO_KEY = /^[^\u0000-\u001f\u007f-\u009f\ud800-\udfff\ufffd]{1,512}$/u;
/**
 * The keys erasure takes: PHOTO_KEY's, and those with C1 controls (U+0080–U+009F) that were taken
 * before PHOTO_KEY refused them, so that a photo stored then can still be erased.
 */
// eslint-disable-next-line no-control-regex -- as above
export const ERASABLE_PHOTO_KEY = /^[^\u0000-\u001f\u007f\ud800-\udfff\ufffd]{1,512}$/u;
export const MAX_ITEMS_PER_REQUEST = 10_000;

export const jobStateSchema = z.enum(['queued', 'running', 'completed', 'failed']);
export type JobState = z.infer<typeof jobStateSchema>;

/** GET /v1/jobs/{id} */
export const jobViewSchema = z.object({
  id: z.string(),
  collection: z.string(),
  state: jobStateSchema,
  sealed: z.boolean(),
  total: z.number().int(),
  done: z.number().int(),
  failed: z.number().int(),
  faces: z.number().int(),
  createdAt: z.string(),
  finishedAt: z.string().optional(),
  webhook: z.object({ url: z.string(), deliveries: z.array(z.object({ at: z.string(), status: z.number().int().nullable(), error: z.string().optional() })) }).optional(),
});
export type JobView = z.infer<typeof jobViewSchema>;

/** One face of a settled photo, as GET /v1/jobs/{id}/results returns it. */
export const resultFaceSchema = z.object({
  faceId: z.string(),
  box: z.tuple([z.number(), z.number(), z.number(), z.number()]),
  score: z.number(),
  quality: z.number(),
  personId: z.string(),
});
export type ResultFace = z.infer<typeof resultFaceSchema>;

export const photoResultSchema = z.object({
  key: z.string(),
  status: z.enum(['done', 'failed']),
  faces: z.array(resultFaceSchema),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type PhotoResult = z.infer<typeof photoResultSchema>;

/**
 * Deterministic ids: a photo's pipeline job id and its faces' ids derive from (collection, key), so
 * a retried or re-submitted photo replaces itself and is never indexed twice.
 */
export function photoJobId(collection: string, key: string): string {
  return 'p' + createHash('sha256').update(`${collection}\u0000${key}`).digest('hex').slice(0, 40);
}

/**
 * `<collection>.f<32 hex>`: the owning collection is part of the id, so a route given only a face id
 * (the thumbnail) can check the caller's access to that collection without a lookup table, and ids of
 * two collections can never collide.
 */
export function faceId(collection: string, key: string, index: number): string {
  return `${collection}.f` + createHash('sha256').update(`${collection}\u0000${key}\u0000${index}`).digest('hex').slice(0, 32);
}

export const FACE_ID = /^([a-z0-9_-]{1,64})\.f[0-9a-f]{32}$/;

/** The collection a face id belongs to, or null when the string is not a face id. */
export function collectionOfFaceId(id: string): string | null {
  return FACE_ID.exec(id)?.[1] ?? null;
}
