import { faceViewSchema } from '@facepipe/contracts';
import { z } from 'zod';

export { enrollResultSchema } from '@facepipe/contracts';

/** Largest metadata object, as JSON. */
export const MAX_METADATA_BYTES = 16 * 1024;
/**
 * Deepest nesting of metadata (the object itself is level 1). JSON.stringify recurses, so a few
 * thousand levels — well under the byte limit — would overflow the stack; checked first, iteratively.
 */
export const MAX_METADATA_DEPTH = 32;

/** True when `value` nests objects and arrays at most `max` levels deep. */
function nestsWithin(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return false;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return true;
}

/**
 * Names and external ids: no control characters (C0, DEL, C1: they corrupt logs and terminals) and
 * valid Unicode. Redis keeps strings as UTF-8, where every lone surrogate becomes U+FFFD: two
 * different external ids would collide, and the stored one could not be looked up again.
 */
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const PLAIN_TEXT = /^[^\u0000-\u001f\u007f-\u009f\ud800-\udfff]*$/u;
const PLAIN_TEXT_MESSAGE = 'must be valid Unicode without control characters';
/** An identity's name (here and when a person is named). */
export const identityName = z.string().trim().min(1).max(200).regex(PLAIN_TEXT, PLAIN_TEXT_MESSAGE);
const name = identityName;
const externalId = z
  .string()
  .min(1)
  .max(256)
  .regex(PLAIN_TEXT, PLAIN_TEXT_MESSAGE)
  .describe("the caller's own id for this person (an employee number…), unique in the collection");
// Not z.record: it refuses an object with a "constructor" member and drops a "__proto__" one
// (it rebuilds the object by assignment). The parsed JSON object is kept as it came.
const metadata = z
  .custom<Record<string, unknown>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'must be a JSON object')
  .meta({ type: 'object', additionalProperties: true })
  .superRefine((m, ctx) => {
    if (!nestsWithin(m, MAX_METADATA_DEPTH)) ctx.addIssue({ code: 'custom', message: `must nest at most ${MAX_METADATA_DEPTH} levels` });
    else if (Buffer.byteLength(JSON.stringify(m)) > MAX_METADATA_BYTES) ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_METADATA_BYTES} bytes as JSON` });
  })
  .describe('any JSON object, kept as it is');

/** POST /v1/collections/{name}/identities */
export const createIdentitySchema = z.object({ name, externalId: externalId.optional(), metadata: metadata.optional() }).strict();
export type CreateIdentity = z.infer<typeof createIdentitySchema>;

/** PATCH …/identities/{id}: the fields given replace the stored ones; `null` removes externalId or metadata. */
export const updateIdentitySchema = z
  .object({ name: name.optional(), externalId: externalId.nullable().optional(), metadata: metadata.nullable().optional() })
  .strict()
  .refine((b) => Object.keys(b).length > 0, 'give at least one of name, externalId, metadata');
export type UpdateIdentity = z.infer<typeof updateIdentitySchema>;

export const identitySchema = z.object({
  id: z.string(),
  name: z.string(),
  externalId: z.string().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  createdAt: z.string(),
  updatedAt: z.string().optional(),
});
export type IdentityView = z.infer<typeof identitySchema>;

/** GET …/identities/{id}: the record and its enrolled (or named) faces. */
export const identityWithFacesSchema = identitySchema.extend({ faces: z.array(faceViewSchema) });
export type IdentityWithFaces = z.infer<typeof identityWithFacesSchema>;

export const identityPageSchema = z.object({ items: z.array(identitySchema), next: z.string().optional() });
export type IdentityPage = z.infer<typeof identityPageSchema>;

/** GET …/identities?cursor=&limit=&externalId= */
export const listIdentitiesQuerySchema = z
  .object({
    cursor: z.string().min(1).max(64).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    externalId: externalId.optional(),
  })
  .strict();

/** DELETE …/identities/{id}?erase=true */
export const deleteIdentityQuerySchema = z.object({ erase: z.enum(['true', 'false'], 'must be true or false').default('false').transform((v) => v === 'true') }).strict();

export const deleteIdentityResponseSchema = z.object({
  id: z.string(),
  erased: z.boolean().describe('true: its faces were deleted from the index; false: they were detached into one unknown person'),
  faces: z.number().int(),
  personId: z.string().optional().describe('the unknown person that holds the detached faces'),
});
export type DeleteIdentityResponse = z.infer<typeof deleteIdentityResponseSchema>;
