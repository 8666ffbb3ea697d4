/**
 * The pure parts of the Qdrant backend: id mapping, filter translation, point/hit conversion,
 * cursors, collection names and client options. No server needed.
 */
import { FaceIndexError } from '../errors';
import type { IndexedFace } from '../face-index';
import { FILTER_FIELDS, filterTerms } from '../validation';
import { FACE_ID_KEY, FACE_ID_NAMESPACE, isUuid, pointIdOf, uuidV5 } from './qdrant-ids';
import {
  checkNoReservedKey, chunks, parseCursor, qdrantCollectionName, splitPatch, toCursor, toHit, toPoint, toQdrantFilter, vectorOf, vectorSizeOf,
} from './qdrant-mapping';
import { QDRANT_INDEX_DEFAULTS, clientParams, resolveQdrantOptions } from './qdrant-options';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FaceIndexError);
    return (err as FaceIndexError).code;
  }
  return undefined;
}

describe('point ids', () => {
  it('computes RFC 9562 UUIDv5 (the RFC/Python uuid5 reference value)', () => {
    // uuid.uuid5(uuid.NAMESPACE_DNS, 'www.example.com') in Python.
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });

  it('maps a face id to a stable, lower-case version-5 UUID in facepipe’s namespace', () => {
    const id = pointIdOf('c1:photo-42:0');
    expect(id).toBe(uuidV5('c1:photo-42:0', FACE_ID_NAMESPACE));
    expect(pointIdOf('c1:photo-42:0')).toBe(id);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('gives distinct ids to distinct faces, including near-identical and non-ASCII ones', () => {
    const faceIds = ['a', 'A', 'a ', 'é', 'e\u0301', ...Array.from({ length: 5000 }, (_, i) => `f${i}`)];
    expect(new Set(faceIds.map(pointIdOf)).size).toBe(faceIds.length);
  });

  it('recognises UUIDs', () => {
    expect(isUuid('2ED6657D-E927-568B-95E1-2665A8AEA6A2')).toBe(true);
    expect(isUuid('2ed6657d-e927-568b-95e1-2665a8aea6a')).toBe(false);
    expect(isUuid(42)).toBe(false);
  });
});

describe('filters', () => {
  it('translates each filter field into a keyword match, ANDed', () => {
    expect(toQdrantFilter(filterTerms({ personId: 'p1', kind: 'identity', photoKey: 'ph' }))).toEqual({
      must: [
        { key: 'photoKey', match: { value: 'ph' } },
        { key: 'personId', match: { value: 'p1' } },
        { key: 'kind', match: { value: 'identity' } },
      ],
    });
    for (const field of FILTER_FIELDS) {
      expect(toQdrantFilter(filterTerms({ [field]: 'v' }))).toEqual({ must: [{ key: field, match: { value: 'v' } }] });
    }
  });

  it('means "no filter" for an empty or absent filter, and restricts to points with has_id', () => {
    expect(toQdrantFilter(filterTerms(undefined))).toBeUndefined();
    expect(toQdrantFilter(filterTerms({ personId: undefined }))).toBeUndefined();
    const ids = [pointIdOf('a'), pointIdOf('b')];
    expect(toQdrantFilter(filterTerms({ jobId: 'j' }), ids)).toEqual({ must: [{ has_id: ids }, { key: 'jobId', match: { value: 'j' } }] });
    expect(toQdrantFilter([], [])).toEqual({ must: [{ has_id: [] }] }); // matches nothing, never everything
  });
});

describe('points and hits', () => {
  const face: IndexedFace = {
    id: 'c1:p:0',
    vector: new Float32Array([0.6, 0.8]),
    payload: { photoKey: 'p', personId: 'x', box: [1, 2, 3, 4], extra: { a: [1] } },
  };

  it('sends the UUID, a plain number vector, and the payload plus the face id', () => {
    const point = toPoint(face);
    expect(point.id).toBe(pointIdOf('c1:p:0'));
    expect(point.vector).toEqual([Float32Array.of(0.6)[0], Float32Array.of(0.8)[0]]);
    expect(Array.isArray(point.vector)).toBe(true);
    expect(point.payload).toEqual({ ...face.payload, [FACE_ID_KEY]: 'c1:p:0' });
    expect(face.payload).not.toHaveProperty(FACE_ID_KEY); // the caller's object is untouched
  });

  it('turns a stored point back into the face, without the reserved key', () => {
    const point = toPoint(face);
    expect(toHit({ id: point.id, payload: point.payload }, 0.5)).toEqual({ id: 'c1:p:0', score: 0.5, payload: face.payload });
  });

  it('refuses points facepipe did not write (INDEX_CORRUPT)', () => {
    expect(codeOf(() => toHit({ id: 7, payload: { photoKey: 'p' } }, 1))).toBe('INDEX_CORRUPT');
    expect(codeOf(() => toHit({ id: pointIdOf('other'), payload: { [FACE_ID_KEY]: 'c1:p:0' } }, 1))).toBe('INDEX_CORRUPT');
    expect(codeOf(() => toHit({ id: pointIdOf('x'), payload: null }, 1))).toBe('INDEX_CORRUPT');
  });

  it('refuses payloads and patches holding the reserved key', () => {
    expect(codeOf(() => checkNoReservedKey({ photoKey: 'p', [FACE_ID_KEY]: 'x' }, 'payload'))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => checkNoReservedKey({ photoKey: 'p' }, 'payload'))).toBeUndefined();
  });

  it('splits a patch into keys to set and keys to delete', () => {
    expect(splitPatch({ personId: undefined, identityId: 'bob', note: { x: 1 }, quality: 0 })).toEqual({
      set: { identityId: 'bob', note: { x: 1 }, quality: 0 },
      unset: ['personId'],
    });
  });
});

describe('retrieved vectors', () => {
  it('reads a dense vector back at unit length', () => {
    const v = vectorOf({ id: 'x', vector: [3, 0, 4] });
    expect(v).toBeInstanceOf(Float32Array);
    expect(Array.from(v)).toEqual([Math.fround(0.6), 0, Math.fround(0.8)]);
  });

  it('refuses points without a single dense vector (not written by facepipe)', () => {
    for (const vector of [undefined, null, [], { face: [1, 2] }, [[1, 2]]]) {
      expect(codeOf(() => vectorOf({ id: 'x', vector: vector as never }))).toBe('INDEX_CORRUPT');
    }
  });
});

describe('cursors, collection names, vector config', () => {
  it('uses the point id as the cursor and refuses anything else', () => {
    const id = pointIdOf('f1');
    expect(parseCursor(undefined)).toBeUndefined();
    expect(parseCursor(id.toUpperCase())).toBe(id);
    expect(codeOf(() => parseCursor('17'))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => parseCursor(''))).toBe('INVALID_ARGUMENT');
    expect(toCursor(null)).toBeUndefined();
    expect(toCursor(undefined)).toBeUndefined();
    expect(toCursor(id)).toBe(id);
    expect(codeOf(() => toCursor(12))).toBe('INDEX_CORRUPT');
  });

  it('prefixes collection names and rejects names that cannot exist', () => {
    expect(qdrantCollectionName('facepipe', 'family')).toBe('facepipe_family');
    expect(qdrantCollectionName('facepipe', '../evil')).toBeNull();
    expect(qdrantCollectionName('facepipe', 'Upper')).toBeNull();
    expect(qdrantCollectionName('facepipe', '')).toBeNull();
  });

  it('reads the vector size of a facepipe collection and refuses others', () => {
    const info = (vectors: unknown) => ({ config: { params: { vectors } } }) as Parameters<typeof vectorSizeOf>[0];
    expect(vectorSizeOf(info({ size: 512, distance: 'Cosine' }), 'c')).toBe(512);
    expect(codeOf(() => vectorSizeOf(info({ size: 512, distance: 'Dot' }), 'c'))).toBe('INDEX_CORRUPT');
    expect(codeOf(() => vectorSizeOf(info({ face: { size: 512, distance: 'Cosine' } }), 'c'))).toBe('INDEX_CORRUPT');
    expect(codeOf(() => vectorSizeOf(info(undefined), 'c'))).toBe('INDEX_CORRUPT');
  });

  it('splits work into bounded batches', () => {
    expect(chunks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunks([], 3)).toEqual([]);
  });
});

describe('client options', () => {
  it('keeps the port, defaults it by scheme, and turns a path into the client prefix', () => {
    expect(clientParams({ url: 'http://qdrant:6333', timeoutMs: 5 })).toEqual({ url: 'http://qdrant:6333', port: 6333, timeout: 5, checkCompatibility: false });
    expect(clientParams({ url: 'https://q.example.com', timeoutMs: 5, apiKey: 'k' })).toEqual({
      url: 'https://q.example.com',
      port: 443,
      apiKey: 'k',
      timeout: 5,
      checkCompatibility: false,
    });
    expect(clientParams({ url: 'http://proxy:8080/qdrant/', timeoutMs: 5 })).toMatchObject({ url: 'http://proxy:8080', port: 8080, prefix: '/qdrant' });
    expect(clientParams({ url: 'http://[::1]:6333', timeoutMs: 5 })).toMatchObject({ url: 'http://[::1]:6333', port: 6333 });
  });

  it.each(['not a url', 'ftp://q:6333', 'http://user:pw@q:6333', 'http://q:6333/?x=1'])('refuses %j', (url) => {
    expect(codeOf(() => clientParams({ url, timeoutMs: 5 }))).toBe('INVALID_ARGUMENT');
  });

  it('fills defaults and checks the limits', () => {
    expect(resolveQdrantOptions({ url: 'http://q:6333' })).toEqual({ url: 'http://q:6333', ...QDRANT_INDEX_DEFAULTS });
    expect(codeOf(() => resolveQdrantOptions({ url: 'http://q:6333', collectionPrefix: 'a b' }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => resolveQdrantOptions({ url: 'http://q:6333', batchSize: 0 }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => resolveQdrantOptions({ url: 'http://q:6333', retries: -1 }))).toBe('INVALID_ARGUMENT');
    expect(resolveQdrantOptions({ url: 'http://q:6333', hnswEf: 256 }).hnswEf).toBe(256);
    expect(codeOf(() => resolveQdrantOptions({ url: 'http://q:6333', hnswEf: 0 }))).toBe('INVALID_ARGUMENT');
  });
});
