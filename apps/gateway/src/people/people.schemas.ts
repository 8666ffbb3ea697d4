import { z } from 'zod';
import { identityName } from '../identities/identities.schemas';

export { facePageSchema, peoplePageSchema, reclusterStatusSchema } from '@facepipe/contracts';

const id = z.string().min(1).max(128);

export const pageQuerySchema = z
  .object({
    cursor: z.string().min(1).max(512).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

/** POST …/people/{id}/name: a new identity named `name`, or the existing `identityId`. */
export const namePersonSchema = z
  .object({ name: identityName.optional(), identityId: id.optional() })
  .strict()
  .refine((b) => (b.name === undefined) !== (b.identityId === undefined), 'give either name or identityId');
export const namePersonResponseSchema = z.object({ identityId: z.string(), name: z.string().optional(), faces: z.number().int() });

/** POST …/people/merge */
export const mergePeopleSchema = z
  .object({ ids: z.array(id).min(2).max(100), into: id.optional() })
  .strict()
  // A person merged with itself is no merge: it would only pin its faces.
  .refine((b) => new Set(b.ids).size === b.ids.length, { message: 'ids must name different people', path: ['ids'] });
export const mergePeopleResponseSchema = z.object({ personId: z.string(), faces: z.number().int() });

/** POST …/faces/{faceId}/move */
export const moveFaceSchema = z
  .object({ personId: id.optional(), newPerson: z.literal(true).optional() })
  .strict()
  .refine((b) => (b.personId === undefined) !== (b.newPerson === undefined), 'give either personId or newPerson: true');
export const moveFaceResponseSchema = z.object({ faceId: z.string(), personId: z.string() });

/** POST …/recluster */
export const reclusterSchema = z
  .object({
    minFaces: z.number().int().min(1).max(1000).default(2),
    /** Cosine similarity at which two faces are neighbours; default FACEPIPE_CLUSTER_THRESHOLD. */
    eps: z.number().min(-1).max(1).optional(),
  })
  .strict();
export const reclusterAcceptedSchema = z.object({ jobId: z.string() });
