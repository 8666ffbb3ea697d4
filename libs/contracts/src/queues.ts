import { z } from 'zod';

/** BullMQ queue names, one per stage. Keys live under `<FACEPIPE_PREFIX>:<queue>:…` in Redis. */
export const QUEUES = {
  detect: 'detect',
  embed: 'embed',
  match: 'match',
  notify: 'notify',
  /** Operations on the face index (people, erase, recluster…), run by the matcher that owns it. */
  index: 'index',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/**
 * BullMQ priorities (lower runs first). Synchronous API calls overtake bulk ingest on every
 * queue, so a 1:1 verify is not stuck behind a million-photo archive.
 */
export const PRIORITY = { sync: 1, bulk: 10 } as const;

/** Where a photo's bytes are: never in Redis; a reference the detector resolves. */
export const photoSourceSchema = z.discriminatedUnion('kind', [
  // `sha256`: the content's hash, when the blob is private (stored under a random id; see BlobStore).
  z.object({ kind: z.literal('blob'), blobId: z.string().regex(/^[a-f0-9]{64}$/), sha256: z.string().regex(/^[a-f0-9]{64}$/).optional() }),
  z.object({ kind: z.literal('url'), url: z.string().url() }),
  // `roots`: the submitting API key's own path roots (each inside FACEPIPE_PATH_ROOTS); the file's
  // real path must lie under one of them too. Absent for the admin key.
  z.object({ kind: z.literal('path'), path: z.string().min(1), roots: z.array(z.string().min(1)).optional() }),
]);
export type PhotoSource = z.infer<typeof photoSourceSchema>;

const box = z.tuple([z.number(), z.number(), z.number(), z.number()]); // [x, y, w, h]
const point = z.tuple([z.number(), z.number()]);

/** detect queue: one photo of a batch job. BullMQ job id = photoJobId(collection, key). */
export const detectJobSchema = z.object({
  jobId: z.string(),
  collection: z.string(),
  key: z.string(),
  source: photoSourceSchema,
});
export type DetectJob = z.infer<typeof detectJobSchema>;

/** A detected face on its way through the pipeline. */
export const detectedFaceSchema = z.object({
  index: z.number().int().min(0),
  box,
  score: z.number(),
  quality: z.number(),
  landmarks: z.array(point).length(5),
});
export type DetectedFace = z.infer<typeof detectedFaceSchema>;

/** embed queue: the aligned crops of one photo (112×112×3 RGB bytes, base64), small enough for Redis. */
export const embedJobSchema = detectJobSchema.omit({ source: true }).extend({
  width: z.number().int(),
  height: z.number().int(),
  faces: z.array(detectedFaceSchema.extend({ crop: z.string() })),
});
export type EmbedJob = z.infer<typeof embedJobSchema>;

/** match queue: the embeddings of one photo (float32 little-endian, base64). */
export const matchJobSchema = embedJobSchema.omit({ faces: true }).extend({
  faces: z.array(detectedFaceSchema.extend({ embedding: z.string() })),
  /** The embedder's vector length: what a photo without faces creates its collection with (absent from older embedders). */
  dim: z.number().int().positive().optional(),
});
export type MatchJob = z.infer<typeof matchJobSchema>;

/** notify queue: deliver a job's webhook. BullMQ job id = the event id, stable across retries. */
export const notifyJobSchema = z.object({
  jobId: z.string(),
  eventId: z.string(),
});
export type NotifyJob = z.infer<typeof notifyJobSchema>;
