import { ENROLL_PHOTO_KEY, MAX_ITEMS_PER_REQUEST, PHOTO_KEY, type PhotoSource } from '@facepipe/contracts';
import type { Request } from 'express';
import path from 'node:path';
import { principalOf } from '../access/principal';
import { ApiError } from '../common/api-error';
import { checkPhotoUrl, checkWebhookUrl } from '../common/url-policy';
import type { UploadedPhoto } from './blob-storage.engine';
import { type AddPhotos, type SubmitPhotos, addPhotosSchema, multipartFieldsSchema, submitPhotosSchema } from './jobs.schemas';

/** One photo to add to a job: its key and where the detector finds its bytes. */
export interface PhotoToAdd {
  key: string;
  source: PhotoSource;
}

/** A validated submission, whatever its wire format. */
export interface Submission {
  photos: PhotoToAdd[];
  webhook?: { url: string; secret?: string };
  seal: boolean;
}

/** `create`: a new job in a collection; `add`: more photos for an open job (no webhook there). */
export type SubmissionMode = 'create' | 'add';

export interface SourcePolicy {
  pathRoots: string[];
  allowPrivateUrls: boolean;
  /**
   * An issued key's own path roots (each inside `pathRoots`): its path sources must lie under one
   * of them, and carry them to the detector, which checks the file's real path against them too.
   * Absent for the admin key, which reads all of `pathRoots`.
   */
  keyPathRoots?: readonly string[];
}

/** The source rules for the caller of `req`. */
export function sourcePolicy(config: { pathRoots: string[]; allowPrivateUrls: boolean }, req: Request): SourcePolicy {
  const principal = principalOf(req);
  return {
    pathRoots: config.pathRoots,
    allowPrivateUrls: config.allowPrivateUrls,
    ...(principal?.kind === 'key' ? { keyPathRoots: principal.pathRoots } : {}),
  };
}

/** `{"items": [...], "webhook"?, "seal"?}` → Submission; every check that needs no I/O happens here. */
export function parseJsonSubmission(body: unknown, mode: SubmissionMode, policy: SourcePolicy): Submission {
  if (isRecord(body)) {
    if (Array.isArray(body.items) && body.items.length > MAX_ITEMS_PER_REQUEST) throw tooManyItems(body.items.length);
    if (mode === 'add' && body.webhook !== undefined) throw webhookOnlyAtCreation('webhook');
  }
  const parsed: AddPhotos & Partial<Pick<SubmitPhotos, 'webhook'>> = mode === 'create' ? submitPhotosSchema.parse(body) : addPhotosSchema.parse(body);
  const photos = parsed.items.map((item, i): PhotoToAdd => {
    const source = item.url !== undefined ? urlSource(item.url, policy, `items.${i}.url`) : pathSource(item.path!, policy, `items.${i}.path`);
    return { key: item.key ?? (item.url !== undefined ? urlKey(item.url) : item.path!), source };
  });
  // A key the client did not give is named by the field it came from.
  const given = (i: number) => parsed.items[i].key !== undefined;
  checkKeys(photos.map((p) => p.key), (i) => (given(i) ? `items.${i}.key` : `items.${i}.${parsed.items[i].url !== undefined ? 'url' : 'path'}`), (i) => (given(i) ? '' : ' (it is the photo key when the item has no "key": give one)'));
  const webhook = parsed.webhook;
  return {
    photos,
    webhook: webhook && { url: checkWebhookUrl(webhook.url, policy.allowPrivateUrls, 'webhook.url').href, ...(webhook.secret ? { secret: webhook.secret } : {}) },
    seal: parsed.seal,
  };
}

/** A `photos` part without a file name: its key would be empty. */
export function namelessPhoto(): ApiError {
  return ApiError.badRequest('INVALID_PHOTO_KEY', 'photos: every file needs a file name (its key)', 'photos');
}

/** Files already stored as blobs by the upload interceptor plus the text fields → Submission. */
export function parseMultipartSubmission(files: UploadedPhoto[] | undefined, fields: unknown, mode: SubmissionMode, policy: SourcePolicy): Submission {
  // A `photos` part without a file name (`filename=""` or none) arrives as a text field: its key is empty.
  if (isRecord(fields) && 'photos' in fields) throw namelessPhoto();
  const f = multipartFieldsSchema.parse({ ...(isRecord(fields) ? fields : {}) });
  if (mode === 'add' && (f.webhookUrl !== undefined || f.webhookSecret !== undefined)) throw webhookOnlyAtCreation('webhookUrl');
  if (f.webhookSecret !== undefined && f.webhookUrl === undefined) {
    throw ApiError.badRequest('VALIDATION_FAILED', 'webhookSecret: needs webhookUrl', 'webhookSecret');
  }
  if (!files || files.length === 0) {
    throw ApiError.badRequest('VALIDATION_FAILED', 'photos: send one or more files in the "photos" field', 'photos');
  }
  if (files.length > MAX_ITEMS_PER_REQUEST) throw tooManyItems(files.length);
  const photos = files.map((file): PhotoToAdd => ({ key: file.originalname, source: { kind: 'blob', blobId: file.blobId } }));
  checkKeys(photos.map((p) => p.key), (i) => `photos.${i}`);
  return {
    photos,
    webhook:
      f.webhookUrl === undefined
        ? undefined
        : { url: checkWebhookUrl(f.webhookUrl, policy.allowPrivateUrls, 'webhookUrl').href, ...(f.webhookSecret ? { secret: f.webhookSecret } : {}) },
    seal: f.seal === undefined ? mode === 'create' : f.seal === 'true',
  };
}

/**
 * Lexical check of a server-side path: absolute, and inside one of the allowed roots after
 * normalisation (`..` cannot climb out). The detector repeats the check on the real path, which
 * also catches symlinks that lead out of a root.
 */
export function checkPath(raw: string, roots: string[], field: string): string {
  if (raw.includes('\0')) throw ApiError.badRequest('PATH_NOT_ALLOWED', `${field}: a path cannot hold a NUL character`, field);
  if (!path.isAbsolute(raw)) throw ApiError.badRequest('PATH_NOT_ALLOWED', `${field}: must be an absolute path`, field);
  const resolved = path.resolve(raw);
  if (!roots.some((root) => isWithin(resolved, root))) {
    throw ApiError.badRequest('PATH_NOT_ALLOWED', `${field}: ${raw} is not under an allowed root (FACEPIPE_PATH_ROOTS)`, field);
  }
  // A trailing "/" names a folder (resolve() drops it): the reader answers PATH_NOT_FOUND for it.
  return raw.endsWith('/') ? `${resolved}/` : resolved;
}

export function isWithin(p: string, root: string): boolean {
  const rel = path.relative(path.resolve(root), p);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

function urlSource(raw: string, policy: SourcePolicy, field: string): PhotoSource {
  return { kind: 'url', url: checkPhotoUrl(raw, policy.allowPrivateUrls, field).href };
}

/** A `path` source the caller may read (lexically: the detector checks the real path). */
export function pathSource(raw: string, policy: SourcePolicy, field: string): PhotoSource {
  const checked = checkPath(raw, policy.pathRoots, field);
  const own = policy.keyPathRoots;
  if (own === undefined) return { kind: 'path', path: checked };
  if (!own.some((root) => isWithin(path.resolve(checked), root))) {
    throw ApiError.badRequest(
      'PATH_NOT_ALLOWED',
      own.length === 0 ? `${field}: this API key may not read server paths (it has no pathRoots)` : `${field}: ${raw} is not under one of this API key's pathRoots`,
      field,
    );
  }
  return { kind: 'path', path: checked, roots: [...own] };
}

/**
 * The photo key of a URL item without one: the URL without its user name and password, which
 * would otherwise be shown to every reader of the collection (a webhook's are masked the same way).
 * The query stays: it may be what tells two photos apart (`photo?id=7`). A presigned URL's
 * signature is in it and changes with each signing, so such items need a `key` of their own.
 */
function urlKey(raw: string): string {
  const url = new URL(raw); // valid: checked as the source first
  if (url.username === '' && url.password === '') return raw; // as written: the key earlier submissions got
  url.username = '';
  url.password = '';
  return url.href;
}

/** Keys must match PHOTO_KEY, not be an enrolment's, and be unique within the request. */
function checkKeys(keys: string[], fieldOf: (i: number) => string, hintOf: (i: number) => string = () => ''): void {
  const seen = new Map<string, number>();
  keys.forEach((key, i) => {
    if (!PHOTO_KEY.test(key)) {
      throw ApiError.badRequest('INVALID_PHOTO_KEY', `${fieldOf(i)}: a photo key is 1–512 characters of valid UTF-8 without control characters${hintOf(i)}`, fieldOf(i));
    }
    if (ENROLL_PHOTO_KEY.test(key)) {
      throw ApiError.badRequest('INVALID_PHOTO_KEY', `${fieldOf(i)}: keys enroll/<identity id>/… are those of enrolled photos; enrol with POST /v1/collections/{name}/identities/{id}/faces`, fieldOf(i));
    }
    const first = seen.get(key);
    if (first !== undefined) {
      throw ApiError.badRequest('DUPLICATE_KEY', `${fieldOf(i)}: key "${key}" appears twice in this request (first at ${fieldOf(first)})`, fieldOf(i));
    }
    seen.set(key, i);
  });
}

function tooManyItems(n: number): ApiError {
  return ApiError.badRequest('TOO_MANY_ITEMS', `At most ${MAX_ITEMS_PER_REQUEST} photos per request, got ${n}; add more with POST /v1/jobs/{id}/photos`);
}

function webhookOnlyAtCreation(field: string): ApiError {
  return ApiError.badRequest('VALIDATION_FAILED', `${field}: a webhook is set when the job is created, not when photos are added`, field);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
