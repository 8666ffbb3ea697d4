/**
 * What the Qdrant client throws, translated into FaceIndexError codes, and which failures are worth
 * retrying. The client throws (a) its fetch library's ApiError, carrying `status` and the JSON body
 * (`{"status": {"error": "Not found: Collection `x` doesn't exist!"}}`), (b) its own
 * QdrantClientTimeoutError / QdrantClientResourceExhaustedError (429 with Retry-After), or (c)
 * undici's `TypeError: fetch failed` (with a `cause` such as ECONNREFUSED) when no answer came at
 * all. Classes are matched by shape and name, not `instanceof`: the ApiError class lives in a
 * transitive package we do not import.
 */
import { FaceIndexError } from '../errors';

interface HttpErrorShape {
  status: number;
  data?: unknown;
  message?: string;
}

function httpError(err: unknown): HttpErrorShape | null {
  if (err === null || typeof err !== 'object') return null;
  const status = (err as { status?: unknown }).status;
  return typeof status === 'number' && Number.isInteger(status) ? (err as HttpErrorShape) : null;
}

/** Qdrant's own error text from a JSON error body (`status.error`), if any. */
export function qdrantMessage(err: unknown): string | undefined {
  const data = httpError(err)?.data as { status?: { error?: unknown } } | undefined;
  const text = data?.status?.error;
  return typeof text === 'string' ? text : undefined;
}

/**
 * `name` and `message` of anything error-like. Not `instanceof Error`: fetch's errors are created
 * in Node's own realm, which is not the realm of a Jest test (or of a vm/worker caller).
 */
function describeError(err: unknown): { name: string; message: string; cause?: string } {
  const e = (err !== null && typeof err === 'object' ? err : {}) as { name?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } };
  // fetch's "fetch failed" says nothing; its cause says why (ECONNREFUSED, ENOTFOUND, "bad port").
  const cause = typeof e.cause?.code === 'string' ? e.cause.code : typeof e.cause?.message === 'string' ? e.cause.message : undefined;
  return {
    name: typeof e.name === 'string' ? e.name : '',
    message: typeof e.message === 'string' ? e.message : String(err),
    ...(cause ? { cause } : {}),
  };
}

/** Errors that may succeed when the (idempotent) request is sent again. */
export function isTransient(err: unknown): boolean {
  if (err instanceof FaceIndexError) return false;
  const { name, message } = describeError(err);
  if (name === 'QdrantClientTimeoutError' || name === 'QdrantClientResourceExhaustedError') return true;
  const http = httpError(err);
  if (http) return http.status === 429 || http.status === 500 || http.status === 502 || http.status === 503 || http.status === 504;
  // No HTTP answer at all: connection refused/reset, DNS, socket errors (undici's "fetch failed").
  return name === 'TypeError' && /fetch failed|terminated|socket/i.test(message);
}

/** How long to wait before attempt `attempt` (1 = the first retry): Retry-After, else backoff + jitter. */
export function retryDelayMs(err: unknown, attempt: number, baseMs: number, random: () => number = Math.random): number {
  const retryAfter = (err as { retry_after?: unknown } | null)?.retry_after;
  if (typeof retryAfter === 'number' && Number.isFinite(retryAfter) && retryAfter >= 0) return Math.min(retryAfter * 1000, 30_000);
  const backoff = baseMs * 2 ** (attempt - 1);
  return Math.round(backoff / 2 + random() * backoff);
}

/**
 * The FaceIndexError for a failed Qdrant call. `what` names the operation and the facepipe
 * collection, for the message (never the URL or API key).
 */
export function toFaceIndexError(err: unknown, what: string): FaceIndexError {
  if (err instanceof FaceIndexError) return err;
  const http = httpError(err);
  if (http) {
    const text = qdrantMessage(err) ?? http.message ?? '';
    const detail = `${what}: Qdrant answered ${http.status}${text ? ` (${text})` : ''}`;
    if (http.status === 404 && /collection/i.test(text)) return new FaceIndexError('COLLECTION_NOT_FOUND', detail, { cause: err });
    if (http.status === 400 || http.status === 422) {
      if (/dimension/i.test(text)) return new FaceIndexError('DIMENSION_MISMATCH', detail, { cause: err });
      return new FaceIndexError('INVALID_ARGUMENT', detail, { cause: err });
    }
    if (http.status === 401 || http.status === 403) {
      return new FaceIndexError('INDEX_UNAVAILABLE', `${detail}; check QDRANT_API_KEY`, { cause: err });
    }
    // A 404 without Qdrant's collection message comes from something else (a proxy, a wrong path).
    if (http.status === 404) return new FaceIndexError('INDEX_UNAVAILABLE', `${detail}; check QDRANT_URL`, { cause: err });
    return new FaceIndexError('INDEX_UNAVAILABLE', detail, { cause: err });
  }
  const { message, cause } = describeError(err);
  return new FaceIndexError('INDEX_UNAVAILABLE', `${what}: Qdrant unreachable (${message}${cause ? `: ${cause}` : ''})`, { cause: err });
}
