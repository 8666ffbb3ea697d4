/**
 * Error mapping and retry policy, on the error objects the Qdrant client really throws: its fetch
 * library's ApiError (built with the bodies Qdrant sends), the client's own time-out and 429
 * classes, and a genuine refused connection. No server needed.
 */
import { createServer } from 'node:net';
import { FaceIndexError } from '../errors';
import { isTransient, qdrantMessage, retryDelayMs, toFaceIndexError } from './qdrant-errors';
import { QdrantFaceIndex } from './qdrant-face-index';

type ApiErrorClass = new (response: { headers: Headers; url: string; status: number; statusText: string; data: unknown }) => Error;
let ApiError: ApiErrorClass;
beforeAll(async () => {
  // The class the client's generated methods throw for a non-2xx answer (a dependency of the client).
  ({ ApiError } = (await import('@qdrant/openapi-typescript-fetch')) as unknown as { ApiError: ApiErrorClass });
});

function apiError(status: number, error?: string): Error {
  const data = error === undefined ? 'Not Found' : { status: { error }, time: 0.001 };
  return new ApiError({ headers: new Headers(), url: 'http://qdrant:6333/collections/facepipe_c1', status, statusText: '', data });
}

/** A port nothing listens on: bind one, note it, close it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('toFaceIndexError', () => {
  it('maps Qdrant’s missing-collection 404 to COLLECTION_NOT_FOUND', () => {
    const err = toFaceIndexError(apiError(404, "Not found: Collection `facepipe_c1` doesn't exist!"), 'count in collection c1');
    expect(err.code).toBe('COLLECTION_NOT_FOUND');
    expect(err.message).toBe("count in collection c1: Qdrant answered 404 (Not found: Collection `facepipe_c1` doesn't exist!)");
  });

  it('maps a vector dimension error to DIMENSION_MISMATCH and other bad input to INVALID_ARGUMENT', () => {
    expect(toFaceIndexError(apiError(400, 'Wrong input: Vector dimension error: expected dim: 64, got 65'), 'upsert').code).toBe('DIMENSION_MISMATCH');
    expect(toFaceIndexError(apiError(400, 'Wrong input: Bad request: empty filter'), 'delete').code).toBe('INVALID_ARGUMENT');
    expect(toFaceIndexError(apiError(422, 'Format error in JSON body'), 'search').code).toBe('INVALID_ARGUMENT');
  });

  it('reports auth failures, foreign 404s and server errors as INDEX_UNAVAILABLE with a hint', () => {
    const auth = toFaceIndexError(apiError(401, 'Must provide an API key or an Authorization bearer token'), 'Qdrant connect');
    expect(auth.code).toBe('INDEX_UNAVAILABLE');
    expect(auth.message).toContain('QDRANT_API_KEY');
    const proxy = toFaceIndexError(apiError(404), 'Qdrant connect');
    expect(proxy.code).toBe('INDEX_UNAVAILABLE');
    expect(proxy.message).toContain('QDRANT_URL');
    expect(toFaceIndexError(apiError(503, 'Service unavailable'), 'search').code).toBe('INDEX_UNAVAILABLE');
  });

  it('passes FaceIndexErrors through and maps anything else to INDEX_UNAVAILABLE', () => {
    const own = new FaceIndexError('INDEX_CLOSED', 'closed');
    expect(toFaceIndexError(own, 'x')).toBe(own);
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6333'), { code: 'ECONNREFUSED' });
    const err = toFaceIndexError(new TypeError('fetch failed', { cause }), 'search');
    expect(err.code).toBe('INDEX_UNAVAILABLE');
    expect(err.message).toBe('search: Qdrant unreachable (fetch failed: ECONNREFUSED)');
    expect(toFaceIndexError(new TypeError('fetch failed', { cause: new Error('bad port') }), 'x').message).toBe('x: Qdrant unreachable (fetch failed: bad port)');
    expect(err.cause).toBeInstanceOf(TypeError);
  });

  it('reads Qdrant’s error text from the body', () => {
    expect(qdrantMessage(apiError(400, 'Wrong input: x'))).toBe('Wrong input: x');
    expect(qdrantMessage(apiError(404))).toBeUndefined();
    expect(qdrantMessage(new Error('x'))).toBeUndefined();
  });
});

describe('retry policy', () => {
  it('retries what may pass on a second try, and nothing else', async () => {
    const { QdrantClientTimeoutError, QdrantClientResourceExhaustedError } = await import('@qdrant/js-client-rest');
    expect(isTransient(new QdrantClientTimeoutError('This operation was aborted'))).toBe(true);
    expect(isTransient(new QdrantClientResourceExhaustedError('Too Many Requests', '2'))).toBe(true);
    for (const status of [429, 500, 502, 503, 504]) expect(isTransient(apiError(status, 'x'))).toBe(true);
    for (const status of [400, 401, 403, 404, 409, 422]) expect(isTransient(apiError(status, 'x'))).toBe(false);
    expect(isTransient(new TypeError('fetch failed'))).toBe(true);
    expect(isTransient(new TypeError('Cannot read properties of undefined'))).toBe(false);
    expect(isTransient(new FaceIndexError('INVALID_ARGUMENT', 'x'))).toBe(false);
  });

  it('backs off exponentially with jitter, and honours Retry-After', async () => {
    const { QdrantClientResourceExhaustedError } = await import('@qdrant/js-client-rest');
    const err = apiError(503, 'x');
    expect(retryDelayMs(err, 1, 200, () => 0)).toBe(100);
    expect(retryDelayMs(err, 1, 200, () => 1)).toBe(300);
    expect(retryDelayMs(err, 3, 200, () => 0.5)).toBe(800);
    expect(retryDelayMs(new QdrantClientResourceExhaustedError('Too Many Requests', '2'), 1, 200)).toBe(2000);
    expect(retryDelayMs(new QdrantClientResourceExhaustedError('Too Many Requests', '600'), 1, 200)).toBe(30_000);
  });

  it('gives up on a server that is not there, after the retries, with INDEX_UNAVAILABLE', async () => {
    const port = await closedPort();
    const started = Date.now();
    const err = await QdrantFaceIndex.open({ url: `http://127.0.0.1:${port}`, retries: 2, retryDelayMs: 20 }).then(
      () => new Error('connected to a closed port'),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FaceIndexError);
    expect((err as FaceIndexError).code).toBe('INDEX_UNAVAILABLE');
    expect((err as FaceIndexError).message).toBe('Qdrant connect: Qdrant unreachable (fetch failed: ECONNREFUSED)');
    expect(Date.now() - started).toBeGreaterThanOrEqual(25); // two retries waited: 10-30 ms, then 20-60 ms
  });

  it('refuses a malformed URL before connecting', async () => {
    await expect(QdrantFaceIndex.open({ url: 'qdrant:6333' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
