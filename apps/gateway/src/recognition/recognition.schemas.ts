import { MAX_SEARCH_K, type PhotoSource } from '@facepipe/contracts';
import type { Request } from 'express';
import { z } from 'zod';
import { ApiError } from '../common/api-error';
import { checkPhotoUrl } from '../common/url-policy';
import { pathSource, type SourcePolicy } from '../jobs/photo-submission';
import { SYNC_FILE_FIELDS, type SyncFileField, type SyncUploads, namelessSyncPhoto } from './sync-upload.interceptor';

export { detectResultSchema, enrollResultSchema, searchResultSchema, verifyResultSchema } from '@facepipe/contracts';

export const DEFAULT_SEARCH_K = 5;

const url = z.string().min(1).max(4096).optional().describe('http(s) URL the detector fetches (same policy as ingest)');
const filePath = z.string().min(1).max(4096).optional().describe('server-side file under one of FACEPIPE_PATH_ROOTS');
const exactlyOne = { message: 'give exactly one of url and path' };

/** A photo in a JSON body: `{"url"}` or `{"path"}`. */
export const photoRefSchema = z
  .object({ url, path: filePath })
  .strict()
  .refine((p) => (p.url === undefined) !== (p.path === undefined), exactlyOne);

const k = z.number().int().min(1).max(MAX_SEARCH_K).default(DEFAULT_SEARCH_K).describe('identities returned per face');
const threshold = z.number().min(-1).max(1).optional();
const exact = z.boolean().default(false).describe("true scans every enrolled vector instead of the approximate (HNSW) index");

/** POST /v1/collections/{name}/search (JSON) */
export const searchJsonSchema = z
  .object({ url, path: filePath, k, threshold: threshold.describe("match threshold for this request; default the collection's"), exact })
  .strict()
  .refine((p) => (p.url === undefined) !== (p.path === undefined), exactlyOne);

const numeric = (schema: z.ZodNumber) => z.string().trim().regex(/^-?(\d+\.?\d*|\.\d+)$/, 'must be a number').transform(Number).pipe(schema);
const flag = z.enum(['true', 'false'], 'must be true or false').transform((v) => v === 'true');

/** POST /v1/collections/{name}/search (multipart text fields; the file is `photo`) */
export const searchFieldsSchema = z
  .object({ k: numeric(z.number().int().min(1).max(MAX_SEARCH_K)).optional(), threshold: numeric(z.number().min(-1).max(1)).optional(), exact: flag.optional() })
  .strict();

/** POST /v1/verify (JSON) */
export const verifyJsonSchema = z.object({ a: photoRefSchema, b: photoRefSchema, threshold: threshold.describe('default: the model manifest threshold') }).strict();

/** POST /v1/verify (multipart text fields; the files are `a` and `b`) */
export const verifyFieldsSchema = z.object({ threshold: numeric(z.number().min(-1).max(1)).optional() }).strict();

/** POST /v1/detect, POST …/identities/{id}/faces (JSON) */
export const photoJsonSchema = photoRefSchema;

/** No text fields besides the files. */
export const noFieldsSchema = z.object({}).strict();

/** ?all=true on enrolment */
export const enrollQuerySchema = z.object({ all: flag.default(false) }).strict();

export const MULTIPART_PHOTO_SCHEMA = {
  type: 'object',
  required: ['photo'],
  properties: { photo: { type: 'string', format: 'binary' } },
};

/** Where a call's photo is: an uploaded file (multipart) or a url/path (JSON), checked like ingest's. */
export function photoSource(req: Request, field: SyncFileField, json: { url?: string; path?: string } | undefined, policy: SourcePolicy, jsonField = ''): PhotoSource {
  if (req.is('multipart/form-data')) {
    const file = ((req.files ?? {}) as SyncUploads)[field]?.[0];
    if (!file) throw ApiError.badRequest('VALIDATION_FAILED', `${field}: send the photo as a file in the "${field}" field`, field);
    return { kind: 'blob', blobId: file.blobId, sha256: file.sha256 };
  }
  const at = (name: string) => (jsonField ? `${jsonField}.${name}` : name);
  if (json?.url !== undefined) return { kind: 'url', url: checkPhotoUrl(json.url, policy.allowPrivateUrls, at('url')).href };
  return pathSource(json!.path!, policy, at('path'));
}

/**
 * The multipart files a route does not take are refused rather than silently ignored, and so is a
 * photo part sent without a file name (it arrives as a text field).
 */
export function refuseOtherFiles(req: Request, allowed: SyncFileField[]): void {
  const fields = (req.body ?? {}) as Record<string, unknown>;
  for (const field of SYNC_FILE_FIELDS) if (Object.hasOwn(fields, field)) throw namelessSyncPhoto(field);
  for (const [field, files] of Object.entries((req.files ?? {}) as SyncUploads)) {
    if ((files?.length ?? 0) > 0 && !allowed.includes(field as SyncFileField)) {
      throw ApiError.badRequest('INVALID_MULTIPART', `this route takes its photo${allowed.length > 1 ? 's' : ''} in ${allowed.map((f) => `"${f}"`).join(' and ')}, not "${field}"`, field);
    }
  }
}
