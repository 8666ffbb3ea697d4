import { z } from 'zod';
import { SCOPES } from '../access/access.decorator';
import { collectionNameSchema } from '../collections/collections.schemas';

/** Key ids: 'k' + 16 hex digits (not secret; they name a key in lists and logs). */
export const KEY_ID = /^k[0-9a-f]{16}$/;

const unique = <T>(items: T[]) => [...new Set(items)];

/**
 * POST /v1/keys. The collections need not exist yet (a key can be made before its collection);
 * an empty list makes a key for the routes that touch no collection (verify, detect).
 */
export const createKeySchema = z
  .object({
    collections: z.array(collectionNameSchema).max(1000).transform(unique),
    scopes: z.array(z.enum(SCOPES)).min(1, 'at least one scope').transform(unique),
    pathRoots: z
      .array(z.string().min(1).max(4096))
      .max(100)
      .optional()
      .describe('server folders (each FACEPIPE_PATH_ROOTS or inside one) whose files this key may send as `path` sources; none by default'),
  })
  .strict();
export type CreateKey = z.infer<typeof createKeySchema>;

/** A key as listed: never its secret, nor its hash. */
export const keyViewSchema = z.object({
  id: z.string(),
  collections: z.array(z.string()),
  scopes: z.array(z.enum(SCOPES)),
  pathRoots: z.array(z.string()),
  createdAt: z.string(),
});
export type KeyView = z.infer<typeof keyViewSchema>;

/** The answer to POST /v1/keys: the only time the key itself is shown. */
export const createdKeySchema = keyViewSchema.extend({ key: z.string() });
export type CreatedKey = z.infer<typeof createdKeySchema>;

export const keyListSchema = z.object({ items: z.array(keyViewSchema) });
