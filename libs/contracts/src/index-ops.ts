import { z } from 'zod';

/**
 * index queue: operations on the face index that the matcher-worker (its only writer) runs for the
 * gateway. Each job is `{requestId, collection, op}`; the matcher answers through the reply channel
 * (sendReply under `requestId`), except `recluster`, whose progress it writes to the recluster
 * status record (`<prefix>:recluster:<requestId>`), because a full re-clustering can outlast any
 * HTTP request.
 */

/** Equality on payload fields (all given must match). */
export const faceFilterSchema = z
  .object({
    photoKey: z.string().min(1).optional(),
    personId: z.string().min(1).optional(),
    identityId: z.string().min(1).optional(),
    jobId: z.string().min(1).optional(),
    kind: z.enum(['identity', 'person']).optional(),
  })
  .strict();
export type IndexFaceFilter = z.infer<typeof faceFilterSchema>;

/** A filter that names at least one field: an empty one would select the whole collection. */
const nonEmptyFilter = faceFilterSchema.refine((f) => Object.values(f).some((v) => v !== undefined), 'must name at least one field');

const cursor = z.string().min(1).max(512).optional();
const limit = z.number().int().min(1).max(1000);
const personId = z.string().min(1).max(128);

export const indexOpSchema = z.discriminatedUnion('type', [
  /** Unknown people (faces of kind `person`), most faces first. */
  z.object({ type: z.literal('listPeople'), cursor, limit }),
  z.object({ type: z.literal('personFaces'), personId, cursor, limit }),
  /** The person's faces become the identity's (kind `identity`, 1:N searchable) and leave the people list. */
  z.object({ type: z.literal('namePerson'), personId, identityId: z.string().min(1).max(128) }),
  /** Every face of `ids` takes one person id (`into`, default: the person with most faces) and is pinned. */
  z.object({ type: z.literal('mergePeople'), ids: z.array(personId).min(2).max(100), into: personId.optional() }),
  /** The face is pinned to `personId`, or to a person of its own (`newPerson`). */
  z.object({ type: z.literal('moveFace'), faceId: z.string().min(1), personId: personId.optional(), newPerson: z.literal(true).optional() }),
  /** Photo erase (filter {photoKey}), identity erase (filter {identityId}). Answers the deleted ids. */
  z.object({ type: z.literal('deleteFaces'), filter: nonEmptyFilter }),
  /**
   * Shallow-merges `patch` into each selected face's payload; a `null` value removes the field
   * (JSON has no undefined). Select by `ids` or a non-empty `filter`.
   */
  z.object({
    type: z.literal('setPayload'),
    ids: z.array(z.string().min(1)).min(1).max(10_000).optional(),
    filter: nonEmptyFilter.optional(),
    patch: z.record(z.string(), z.unknown()),
  }),
  z.object({ type: z.literal('dropCollection') }),
  /** Full re-clustering of the unknown, unpinned faces (DBSCAN). Runs as a tracked background job. */
  z.object({ type: z.literal('recluster'), minFaces: z.number().int().min(1).max(1000), eps: z.number().min(-1).max(1).optional() }),
  z.object({ type: z.literal('listIdentityFaces'), identityId: z.string().min(1), cursor, limit }),
  /** Is the face in the index? (Its thumbnail is served only then: see the faces controller.) */
  z.object({ type: z.literal('hasFace'), faceId: z.string().min(1).max(128) }),
]);
export type IndexOp = z.infer<typeof indexOpSchema>;
export type IndexOpType = IndexOp['type'];

export const indexJobSchema = z.object({
  requestId: z.string().min(1),
  collection: z.string().min(1),
  op: indexOpSchema,
});
export type IndexJob = z.infer<typeof indexJobSchema>;

/** A face as the people and identity routes show it. */
export const faceViewSchema = z.object({
  faceId: z.string(),
  photoKey: z.string(),
  box: z.tuple([z.number(), z.number(), z.number(), z.number()]).optional(),
  score: z.number().optional(),
  quality: z.number().optional(),
  personId: z.string().optional(),
  identityId: z.string().optional(),
  /** A human decided this face's person (merge, move, name): reclustering keeps it. */
  pinned: z.boolean(),
});
export type FaceView = z.infer<typeof faceViewSchema>;

export const facePageSchema = z.object({ items: z.array(faceViewSchema), next: z.string().optional() });
export type FacePage = z.infer<typeof facePageSchema>;

export const personViewSchema = z.object({
  personId: z.string(),
  faces: z.number().int(),
  /** The best face of the person (highest detection score × quality); its thumbnail shows the person. */
  representativeFaceId: z.string(),
});
export type PersonView = z.infer<typeof personViewSchema>;

export const peoplePageSchema = z.object({ items: z.array(personViewSchema), next: z.string().optional() });
export type PeoplePage = z.infer<typeof peoplePageSchema>;

/** What each operation answers. */
export interface IndexOpResults {
  listPeople: PeoplePage;
  personFaces: FacePage;
  namePerson: { identityId: string; faces: number };
  mergePeople: { personId: string; faces: number };
  moveFace: { faceId: string; personId: string };
  deleteFaces: { deleted: number; faceIds: string[]; photoKeys: string[]; jobIds: string[] };
  setPayload: { updated: number };
  dropCollection: { faces: number };
  recluster: ReclusterStatus;
  listIdentityFaces: FacePage;
  hasFace: { exists: boolean };
}

export const reclusterStateSchema = z.enum(['queued', 'running', 'completed', 'failed']);

/** GET /v1/collections/{name}/recluster/{jobId} */
export const reclusterStatusSchema = z.object({
  jobId: z.string(),
  collection: z.string(),
  state: reclusterStateSchema,
  minFaces: z.number().int(),
  eps: z.number(),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  /** Faces considered (unknown faces), and of those the ones whose person changed. */
  faces: z.number().int().optional(),
  changed: z.number().int().optional(),
  /** People (unknown) after the run. */
  people: z.number().int().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type ReclusterStatus = z.infer<typeof reclusterStatusSchema>;

/** Where the matcher and the gateway keep a recluster job's status (a Redis hash of JSON). */
export function reclusterStatusKey(prefix: string, jobId: string): string {
  return `${prefix}:recluster:${jobId}`;
}

/** The collection's current (latest) recluster job id, so a second request joins it. */
export function reclusterCurrentKey(prefix: string, collection: string): string {
  return `${prefix}:collection:${collection}:recluster`;
}

/** The collection registry (name → JSON {createdAt}); the matcher refuses collections not in it. */
export function collectionsKey(prefix: string): string {
  return `${prefix}:collections`;
}
