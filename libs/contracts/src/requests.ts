import { z } from 'zod';
import { detectJobSchema, embedJobSchema, matchJobSchema, photoSourceSchema } from './queues';

/**
 * Synchronous calls (detect, verify, search, enroll) ride the ingest stages at PRIORITY.sync: the
 * gateway adds a detect job that carries a `request` and waits for the reply under `request.id`
 * (libs/pipeline replies.ts). The stage that has the answer sends it: the detector for `detect`,
 * the embedder for `verify`, the matcher for `search` and `enroll`. A sync job never touches a
 * batch job record.
 */

/** Cosine similarity at or above which two faces are the same person: the default model manifest's
 * threshold (libs/face-engine/manifests/faceplugin.json; a gateway test keeps the two equal). It is
 * here because the gateway, which resolves a collection's threshold, must not load the models. */
export const DEFAULT_MATCH_THRESHOLD = 0.34;

/** Largest `k` of a search: identities returned per face. */
export const MAX_SEARCH_K = 100;

const requestId = z.string().min(1).max(64);
const threshold = z.number().min(-1).max(1);
/**
 * When the gateway stops waiting (ms since the epoch): a stage that picks the call up later skips
 * it, since nobody will read the answer, and a URL source is fetched within the time left.
 * Optional: calls queued by a gateway of an earlier version have none.
 */
const deadline = z.number().int().positive().optional();

export const syncRequestSchema = z.discriminatedUnion('op', [
  /** Faces with boxes, landmarks and quality; answered by the detector. */
  z.object({ id: requestId, deadline, op: z.literal('detect') }),
  /** The job's `source` is photo `a`; `b` is the other. The largest face of each is compared. */
  z.object({ id: requestId, deadline, op: z.literal('verify'), b: photoSourceSchema, threshold }),
  /** Every face of the photo against the collection's identities; `threshold` already resolved by the gateway. */
  z.object({ id: requestId, deadline, op: z.literal('search'), k: z.number().int().min(1).max(MAX_SEARCH_K), threshold, exact: z.boolean() }),
  /** The largest face (or every face with `all`) joins the identity; faces below `minQuality` are refused. */
  z.object({ id: requestId, deadline, op: z.literal('enroll'), identityId: z.string().min(1).max(128), all: z.boolean(), minQuality: z.number().min(0).max(1) }),
]);
export type SyncRequest = z.infer<typeof syncRequestSchema>;
export type SyncOp = SyncRequest['op'];

/**
 * The stage jobs of a synchronous call: the ingest payloads plus the request. `jobId` is the
 * request id and `collection` is '' for the calls that touch none (detect, verify); `key` is the
 * photo key an enrolled face is stored under (see enrollPhotoKey), else 'sync'.
 */
export const syncDetectJobSchema = detectJobSchema.extend({ request: syncRequestSchema });
export type SyncDetectJob = z.infer<typeof syncDetectJobSchema>;

/** Verify puts the largest face of `a` first and that of `b` second, and says how many each photo had. */
export const syncEmbedJobSchema = embedJobSchema.extend({
  request: syncRequestSchema,
  photoFaces: z.object({ a: z.number().int(), b: z.number().int() }).optional(),
});
export type SyncEmbedJob = z.infer<typeof syncEmbedJobSchema>;

export const syncMatchJobSchema = matchJobSchema.extend({ request: syncRequestSchema });
export type SyncMatchJob = z.infer<typeof syncMatchJobSchema>;

/** Whether a stage job is a synchronous call rather than a photo of a batch job. */
export function isSyncJob<T extends object>(data: T): data is T & { request: SyncRequest } {
  return typeof (data as { request?: unknown }).request === 'object' && (data as { request?: unknown }).request !== null;
}

// ── what each call answers ─────────────────────────────────────────────────────────────────────

const box = z.tuple([z.number(), z.number(), z.number(), z.number()]).describe('[x, y, width, height] in pixels of the photo as displayed');
const point = z.tuple([z.number(), z.number()]);

/** POST /v1/detect */
export const detectResultSchema = z.object({
  width: z.number().int(),
  height: z.number().int(),
  faces: z.array(
    z.object({
      box,
      score: z.number().describe('detector confidence'),
      landmarks: z.array(point).length(5).describe('left eye, right eye, nose tip, left and right mouth corners'),
      quality: z.number().describe('0–1: confidence × size × frontal-ness'),
    }),
  ),
});
export type DetectResult = z.infer<typeof detectResultSchema>;

/** POST /v1/verify */
export const verifyResultSchema = z.object({
  similarity: z.number().describe('cosine similarity of the largest face of a and of b'),
  match: z.boolean(),
  threshold: z.number(),
  faces: z.object({ a: z.number().int(), b: z.number().int() }).describe('faces found in each photo'),
});
export type VerifyResult = z.infer<typeof verifyResultSchema>;

export const identityMatchSchema = z.object({ identityId: z.string(), name: z.string(), similarity: z.number() });
export type IdentityMatch = z.infer<typeof identityMatchSchema>;

/** POST /v1/collections/{name}/search */
export const searchResultSchema = z.object({
  faces: z.array(
    z.object({
      box,
      score: z.number(),
      candidates: z.array(identityMatchSchema).describe('the top-k identities, most similar first'),
      match: identityMatchSchema.nullable().describe('the best candidate when its similarity reaches the threshold, else null'),
    }),
  ),
  threshold: z.number().describe('the threshold `match` was decided with'),
});
export type SearchResult = z.infer<typeof searchResultSchema>;

/** POST /v1/collections/{name}/identities/{id}/faces */
export const enrollResultSchema = z.object({
  identityId: z.string(),
  faces: z.array(z.object({ faceId: z.string(), box, score: z.number(), quality: z.number() })),
});
export type EnrollResult = z.infer<typeof enrollResultSchema>;

export interface SyncResults {
  detect: DetectResult;
  verify: VerifyResult;
  search: SearchResult;
  enroll: EnrollResult;
}

// ── identities ─────────────────────────────────────────────────────────────────────────────────

/** Identity ids: `i` + 24 hex (the people routes create them the same way). */
export const IDENTITY_ID = /^i[0-9a-f]{24}$/;

/** The collection's identity records (hash: identity id → JSON IdentityRecord). The matcher reads names here. */
export function identitiesKey(prefix: string, collection: string): string {
  return `${prefix}:collection:${collection}:identities`;
}

/** A stored identity. */
export interface IdentityRecord {
  id: string;
  name: string;
  externalId?: string;
  metadata?: Record<string, unknown>;
  createdAt: string;
  updatedAt?: string;
}

/**
 * The photo key an enrolled photo's faces are stored under: per identity and per photo content
 * (the blob's sha256, or the url/path), so enrolling the same photo again replaces its faces
 * instead of adding them twice.
 */
export function enrollPhotoKey(identityId: string, photo: string): string {
  return `enroll/${identityId}/${photo}`;
}

/**
 * Keys of enrolled photos (enrollPhotoKey). Refused to photo submissions: a batch photo under such
 * a key would replace an identity's enrolled faces without any identity route.
 */
export const ENROLL_PHOTO_KEY = /^enroll\/i[0-9a-f]{24}\//;
