import { MAX_ITEMS_PER_REQUEST, jobViewSchema, photoResultSchema } from '@facepipe/contracts';
import { z } from 'zod';

export const webhookSchema = z
  .object({
    url: z.string().min(1).max(2048).describe('http(s) URL that receives the signed job.completed event'),
    secret: z.string().min(1).max(256).optional().describe('HMAC-SHA256 key of x-facepipe-signature'),
  })
  .strict();

export const photoItemSchema = z
  .object({
    key: z.string().optional().describe('the photo key within the collection; defaults to the url or path'),
    url: z.string().min(1).max(4096).optional().describe('http(s) URL the detector fetches'),
    path: z.string().min(1).max(4096).optional().describe('server-side file under one of FACEPIPE_PATH_ROOTS'),
  })
  .strict()
  .refine((i) => (i.url === undefined) !== (i.path === undefined), { message: 'give exactly one of url and path' });
export type PhotoItem = z.infer<typeof photoItemSchema>;

const items = z.array(photoItemSchema).min(1).max(MAX_ITEMS_PER_REQUEST);

/** POST /v1/collections/{name}/photos (JSON) */
export const submitPhotosSchema = z
  .object({
    items,
    webhook: webhookSchema.optional(),
    seal: z.boolean().default(true).describe('false keeps the job open for POST /v1/jobs/{id}/photos; seal it with POST /v1/jobs/{id}/seal'),
  })
  .strict();
export type SubmitPhotos = z.infer<typeof submitPhotosSchema>;

/** POST /v1/jobs/{id}/photos (JSON): the webhook belongs to the job and is set when it is created. */
export const addPhotosSchema = z
  .object({
    items,
    seal: z.boolean().default(false).describe('true seals the job after adding these photos'),
  })
  .strict();
export type AddPhotos = z.infer<typeof addPhotosSchema>;

/** Text fields of a multipart submission (files go in the `photos` field). */
export const multipartFieldsSchema = z
  .object({
    webhookUrl: z.string().min(1).max(2048).optional(),
    webhookSecret: z.string().min(1).max(256).optional(),
    seal: z.enum(['true', 'false']).optional(),
  })
  .strict();

export const jobIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

export const resultsQuerySchema = z
  .object({
    cursor: z.string().min(1).max(256).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

export const submitResponseSchema = z.object({ jobId: z.string() });
export const resultsPageSchema = z.object({ items: z.array(photoResultSchema), next: z.string().optional() });
export { jobViewSchema };

/** The multipart request body, for the OpenAPI document only. */
export const MULTIPART_BODY_SCHEMA = {
  type: 'object',
  required: ['photos'],
  properties: {
    photos: {
      type: 'array',
      maxItems: MAX_ITEMS_PER_REQUEST,
      items: { type: 'string', format: 'binary' },
      description: "one or more image files; each file's name is its key",
    },
    webhookUrl: { type: 'string', description: 'collection route only: http(s) URL of the job.completed webhook' },
    webhookSecret: { type: 'string', description: 'collection route only: HMAC key of the webhook signature' },
    seal: { type: 'string', enum: ['true', 'false'], description: 'default true on the collection route, false on the job route' },
  },
};
