import { COLLECTION_NAME } from '@facepipe/contracts';
import { z } from 'zod';

export const collectionNameSchema = z
  .string()
  .regex(COLLECTION_NAME, 'must be 1–64 characters of a-z, 0-9, _ and -');

export const createCollectionSchema = z.object({ name: collectionNameSchema }).strict();
export type CreateCollection = z.infer<typeof createCollectionSchema>;

export const collectionSchema = z.object({ name: z.string(), createdAt: z.string() });
export type Collection = z.infer<typeof collectionSchema>;

export const collectionStatsSchema = z.object({
  name: z.string(),
  createdAt: z.string().describe('when the collection was created: a collection deleted and created again under the same name has a new one'),
  photos: z.number().int(),
  faces: z.number().int(),
  people: z.number().int(),
  threshold: z.number().describe("similarity at which a search's best candidate is a `match` (default: the model manifest's)"),
});
export type CollectionStats = z.infer<typeof collectionStatsSchema>;

/** PATCH /v1/collections/{name}: `null` returns the threshold to the default. */
export const updateCollectionSchema = z.object({ threshold: z.number().min(-1).max(1).nullable() }).strict();
export type UpdateCollection = z.infer<typeof updateCollectionSchema>;
