/**
 * The contract every `FaceIndex` backend must pass (the embedded index now, Qdrant later). Call it
 * from a backend's spec file:
 *
 *   describeFaceIndexConformance('EmbeddedFaceIndex', async () => { … return { index, cleanup } });
 *
 * `create` is called before every test and must return an empty, independent index; `cleanup`
 * closes it and removes whatever it stored. Collection names are fixed per test, so a backend
 * that shares state between `create` calls must still start each test empty.
 *
 * Data is generated from a seeded PRNG, so a failure reproduces.
 */
import { FaceIndexError, type FaceIndexErrorCode } from '../errors';
import type { FaceIndex, FacePayload, Hit, IndexedFace } from '../face-index';
import { rng, unit } from './random';

export { rng, unit };

export interface ConformanceSubject {
  index: FaceIndex;
  cleanup(): Promise<void>;
}

const DIM = 64;
const vec = (r: () => number, dims = DIM) => unit(r, dims);

export function describeFaceIndexConformance(name: string, create: () => Promise<ConformanceSubject>): void {
  describe(`FaceIndex conformance: ${name}`, () => {
    let subject: ConformanceSubject;
    let index: FaceIndex;
    beforeEach(async () => {
      subject = await create();
      index = subject.index;
    });
    afterEach(async () => {
      await subject.cleanup();
    });

    describe('collections', () => {
      it('ensureCollection is idempotent and keeps the data', async () => {
        await index.ensureCollection('c1', DIM);
        await index.upsert('c1', faces(rng(1), 3, 'a'));
        await index.ensureCollection('c1', DIM);
        expect(await index.count('c1')).toBe(3);
      });

      it('refuses to re-create a collection with another dimension', async () => {
        await index.ensureCollection('c1', DIM);
        await expectCode(index.ensureCollection('c1', DIM + 1), 'DIMENSION_MISMATCH');
      });

      it('reports an unknown collection from every call', async () => {
        const v = vec(rng(2));
        await expectCode(index.upsert('nope', [{ id: 'x', vector: v, payload: { photoKey: 'p' } }]), 'COLLECTION_NOT_FOUND');
        await expectCode(index.search('nope', v, { k: 1 }), 'COLLECTION_NOT_FOUND');
        await expectCode(index.get('nope', ['x']), 'COLLECTION_NOT_FOUND');
        await expectCode(index.setPayload('nope', ['x'], { personId: 'q' }), 'COLLECTION_NOT_FOUND');
        await expectCode(index.delete('nope', { ids: ['x'] }), 'COLLECTION_NOT_FOUND');
        await expectCode(index.count('nope'), 'COLLECTION_NOT_FOUND');
        await expectCode(index.scroll('nope', { limit: 1 }), 'COLLECTION_NOT_FOUND');
        await expectCode(index.dropCollection('nope'), 'COLLECTION_NOT_FOUND');
      });

      it('dropCollection removes the collection and everything in it', async () => {
        await index.ensureCollection('c1', DIM);
        await index.upsert('c1', faces(rng(3), 5, 'a'));
        await index.dropCollection('c1');
        await expectCode(index.count('c1'), 'COLLECTION_NOT_FOUND');
        await index.ensureCollection('c1', 2 * DIM); // a fresh one, even of another dimension
        expect(await index.count('c1')).toBe(0);
      });

      it('keeps collections isolated from each other', async () => {
        const r = rng(4);
        await index.ensureCollection('c1', DIM);
        await index.ensureCollection('c2', 32);
        const a = faces(r, 10, 'x', { photoKey: 'one' });
        const b = faces(r, 4, 'x', { photoKey: 'two' }, 32); // the same ids, another dimension
        await index.upsert('c1', a);
        await index.upsert('c2', b);
        expect(await index.count('c1')).toBe(10);
        expect(await index.count('c2')).toBe(4);
        expect((await index.get('c1', ['x0']))[0]?.payload.photoKey).toBe('one');
        expect((await index.get('c2', ['x0']))[0]?.payload.photoKey).toBe('two');
        expect(await index.delete('c2', { ids: ['x0', 'x1'] })).toBe(2);
        expect(await index.count('c1')).toBe(10);
        const hits = await index.search('c1', a[5].vector, { k: 3 });
        expect(hits[0].id).toBe('x5');
        await index.dropCollection('c2');
        expect(await index.count('c1')).toBe(10);
      });

      it('refuses bad collection names and dimensions', async () => {
        await expectCode(index.ensureCollection('../evil', DIM), 'INVALID_ARGUMENT');
        await expectCode(index.ensureCollection('', DIM), 'INVALID_ARGUMENT');
        await expectCode(index.ensureCollection('ok', 0), 'INVALID_ARGUMENT');
        await expectCode(index.ensureCollection('ok', 1.5), 'INVALID_ARGUMENT');
      });
    });

    describe('upsert, get, count', () => {
      beforeEach(async () => {
        await index.ensureCollection('c1', DIM);
      });

      it('counts what was upserted and gets it back', async () => {
        const fs = faces(rng(5), 20, 'f', { jobId: 'j1' });
        fs[3].payload = { photoKey: 'p3', box: [1, 2, 3, 4], score: 0.9, quality: 0.5, createdAt: '2024-01-01T00:00:00Z', extra: { a: [1, 'b'] } };
        await index.upsert('c1', fs);
        expect(await index.count('c1')).toBe(20);
        const got = await index.get('c1', ['f3', 'missing', 'f0']);
        expect(got[0]).toEqual({ id: 'f3', score: 1, payload: fs[3].payload });
        expect(got[1]).toBeNull();
        expect(got[2]).toEqual({ id: 'f0', score: 1, payload: fs[0].payload });
      });

      it('re-upserting an id replaces its vector and payload and does not add a face', async () => {
        const r = rng(6);
        const fs = faces(r, 30, 'f', { personId: 'old' });
        await index.upsert('c1', fs);
        const replacement = { id: 'f7', vector: vec(r), payload: { photoKey: 'new-photo' } as FacePayload };
        await index.upsert('c1', [replacement]);
        await index.upsert('c1', [replacement]); // idempotent
        expect(await index.count('c1')).toBe(30);
        // The whole payload is replaced: the old personId is gone.
        expect((await index.get('c1', ['f7']))[0]?.payload).toEqual({ photoKey: 'new-photo' });
        expect(await index.count('c1', { personId: 'old' })).toBe(29);
        for (const exact of [true, false]) {
          const top = await index.search('c1', replacement.vector, { k: 1, exact });
          expect(top[0].id).toBe('f7');
          expect(top[0].score).toBeCloseTo(1, 5);
          const old = await index.search('c1', fs[7].vector, { k: 30, exact });
          expect(old.find((h) => h.id === 'f7')!.score).toBeCloseTo(dot(fs[7].vector, replacement.vector), 4);
        }
      });

      it('lets the last occurrence win when one call holds an id twice', async () => {
        const r = rng(7);
        const first = { id: 'dup', vector: vec(r), payload: { photoKey: 'first' } };
        const second = { id: 'dup', vector: vec(r), payload: { photoKey: 'second' } };
        await index.upsert('c1', [first, second]);
        expect(await index.count('c1')).toBe(1);
        expect((await index.get('c1', ['dup']))[0]?.payload.photoKey).toBe('second');
        expect((await index.search('c1', second.vector, { k: 1, exact: true }))[0].score).toBeCloseTo(1, 5);
      });

      it('treats an empty upsert as a no-op and searches an empty collection', async () => {
        await index.upsert('c1', []);
        expect(await index.count('c1')).toBe(0);
        expect(await index.search('c1', vec(rng(8)), { k: 5 })).toEqual([]);
        expect(await index.scroll('c1', { limit: 5 })).toEqual({ items: [] });
      });

      it('refuses vectors of the wrong dimension', async () => {
        const r = rng(9);
        await expectCode(index.upsert('c1', [{ id: 'a', vector: vec(r, DIM + 1), payload: { photoKey: 'p' } }]), 'DIMENSION_MISMATCH');
        await expectCode(index.search('c1', vec(r, DIM - 1), { k: 1 }), 'DIMENSION_MISMATCH');
        // A bad face fails the whole call: nothing of it is stored.
        await expectCode(index.upsert('c1', [...faces(r, 3, 'ok'), { id: 'bad', vector: vec(r, 3), payload: { photoKey: 'p' } }]), 'DIMENSION_MISMATCH');
        expect(await index.count('c1')).toBe(0);
      });

      it('refuses malformed arguments', async () => {
        const r = rng(10);
        const nan = vec(r);
        nan[3] = NaN;
        await expectCode(index.upsert('c1', [{ id: 'a', vector: nan, payload: { photoKey: 'p' } }]), 'INVALID_ARGUMENT');
        await expectCode(index.upsert('c1', [{ id: 'a', vector: new Float32Array(DIM), payload: { photoKey: 'p' } }]), 'INVALID_ARGUMENT');
        await expectCode(index.upsert('c1', [{ id: '', vector: vec(r), payload: { photoKey: 'p' } }]), 'INVALID_ARGUMENT');
        await expectCode(index.upsert('c1', [{ id: 'a', vector: vec(r), payload: {} as FacePayload }]), 'INVALID_ARGUMENT');
        await expectCode(index.search('c1', vec(r), { k: 0 }), 'INVALID_ARGUMENT');
        await expectCode(index.scroll('c1', { limit: 0 }), 'INVALID_ARGUMENT');
        await expectCode(index.delete('c1', {}), 'INVALID_ARGUMENT');
        await expectCode(index.delete('c1', { filter: {} }), 'INVALID_ARGUMENT');
      });

      it('getVectors returns each stored vector at unit length, null for missing ids', async () => {
        const r = rng(12);
        const fs = faces(r, 5, 'v');
        const scaled = { id: 'scaled', vector: vec(r).map((x) => x * 3.5), payload: { photoKey: 'p' } };
        await index.upsert('c1', [...fs, scaled]);
        const got = await index.getVectors('c1', ['v2', 'missing', 'scaled', 'v0']);
        expect(got[1]).toBeNull();
        for (const [i, want] of [[0, fs[2].vector], [2, scaled.vector.map((x) => x / 3.5)], [3, fs[0].vector]] as const) {
          const v = got[i]!;
          expect(v).toBeInstanceOf(Float32Array);
          expect(v).toHaveLength(DIM);
          v.forEach((x, j) => expect(x).toBeCloseTo(want[j], 5));
        }
        expect(await index.getVectors('c1', [])).toEqual([]);
        await expectCode(index.getVectors('nope', ['v0']), 'COLLECTION_NOT_FOUND');
      });

      it('hands out copies: mutating a result or an input does not change what is stored', async () => {
        const f = faces(rng(11), 1, 'm', { personId: 'p' })[0];
        await index.upsert('c1', [f]);
        f.payload.personId = 'changed';
        f.vector.fill(0.125);
        const got = (await index.get('c1', ['m0']))[0]!;
        expect(got.payload.personId).toBe('p');
        got.payload.personId = 'mutated';
        expect((await index.get('c1', ['m0']))[0]!.payload.personId).toBe('p');
        const hit = (await index.search('c1', vec(rng(11)), { k: 1, exact: true }))[0];
        expect(hit.id).toBe('m0');
        expect(hit.score).toBeCloseTo(1, 5); // the stored vector is the original one
      });
    });

    describe('search', () => {
      const N = 500;
      let data: IndexedFace[];
      beforeEach(async () => {
        const r = rng(12);
        data = faces(r, N, 'v').map((f, i) => ({
          ...f,
          payload: { photoKey: `photo${i % 25}`, personId: `person${i % 7}`, identityId: i % 2 === 0 ? 'even' : 'odd' },
        }));
        await index.ensureCollection('c1', DIM);
        await index.upsert('c1', data.slice(0, 200));
        await index.upsert('c1', data.slice(200));
      });

      it('returns the nearest first with cosine scores (exact: identical to brute force)', async () => {
        const r = rng(13);
        for (let q = 0; q < 20; q++) {
          const query = vec(r);
          const hits = await index.search('c1', query, { k: 10, exact: true });
          const truth = bruteForce(data, query, 10);
          expect(hits.map((h) => h.id)).toEqual(truth.map((t) => t.id));
          hits.forEach((h, i) => expect(h.score).toBeCloseTo(truth[i].score, 5));
        }
      });

      it('finds ≥ 95% of the true top 10 without exact, with true cosine scores, best first', async () => {
        const r = rng(14);
        let found = 0;
        const queries = 50;
        for (let q = 0; q < queries; q++) {
          const query = vec(r);
          const hits = await index.search('c1', query, { k: 10 });
          expect(hits).toHaveLength(10);
          expectSorted(hits);
          const truth = new Set(bruteForce(data, query, 10).map((t) => t.id));
          for (const h of hits) {
            if (truth.has(h.id)) found++;
            expect(h.score).toBeCloseTo(dot(query, data[Number(h.id.slice(1))].vector), 5);
          }
        }
        expect(found / (queries * 10)).toBeGreaterThanOrEqual(0.95);
      });

      it('finds a stored vector as its own nearest neighbour with score 1', async () => {
        for (const i of [0, 137, 499]) {
          const [top] = await index.search('c1', data[i].vector, { k: 1 });
          expect(top.id).toBe(`v${i}`);
          expect(top.score).toBeCloseTo(1, 5);
          expect(top.payload).toEqual(data[i].payload);
        }
      });

      it('returns everything when k exceeds the count', async () => {
        const hits = await index.search('c1', vec(rng(15)), { k: 600, exact: true });
        expect(hits).toHaveLength(N);
        expectSorted(hits);
        expect(new Set(hits.map((h) => h.id)).size).toBe(N);
      });

      it('filters on photoKey, personId, identityId, and on several fields at once', async () => {
        const r = rng(16);
        const filters = [
          { photoKey: 'photo3' },
          { personId: 'person5' },
          { identityId: 'odd' },
          { personId: 'person2', identityId: 'even' },
          { photoKey: 'photo4', personId: 'person4' },
        ];
        for (const filter of filters) {
          const subset = data.filter((f) => Object.entries(filter).every(([k, v]) => f.payload[k] === v));
          for (const exact of [true, false]) {
            for (let q = 0; q < 5; q++) {
              const query = vec(r);
              const hits = await index.search('c1', query, { k: 8, filter, exact });
              const truth = bruteForce(subset, query, 8);
              expect(hits).toHaveLength(Math.min(8, subset.length));
              expectSorted(hits);
              for (const h of hits) expect(h.payload).toMatchObject(filter);
              if (exact) expect(hits.map((h) => h.id)).toEqual(truth.map((t) => t.id));
              else expect(overlap(hits, truth)).toBeGreaterThanOrEqual(Math.min(8, subset.length) - 1);
            }
          }
          expect(await index.count('c1', filter)).toBe(subset.length);
        }
        expect(await index.search('c1', vec(r), { k: 5, filter: { personId: 'nobody' } })).toEqual([]);
        expect(await index.count('c1', { photoKey: 'photo1', personId: 'nobody' })).toBe(0);
        expect(await index.count('c1', {})).toBe(N);
      });
    });

    describe('setPayload', () => {
      beforeEach(async () => {
        await index.ensureCollection('c1', DIM);
        await index.upsert('c1', faces(rng(17), 10, 's', { personId: 'cluster-a', quality: 0.5 }));
      });

      it('merges the patch into each payload, skipping missing ids, and filters follow', async () => {
        await index.setPayload('c1', ['s1', 's2', 'missing'], { personId: 'cluster-b', identityId: 'alice', note: { x: 1 } });
        expect(await index.count('c1')).toBe(10);
        const [s1, s3] = await index.get('c1', ['s1', 's3']);
        expect(s1!.payload).toEqual({ photoKey: 'photo-s1', personId: 'cluster-b', quality: 0.5, identityId: 'alice', note: { x: 1 } });
        expect(s3!.payload).toEqual({ photoKey: 'photo-s3', personId: 'cluster-a', quality: 0.5 });
        expect(await index.count('c1', { personId: 'cluster-a' })).toBe(8);
        expect(await index.count('c1', { personId: 'cluster-b', identityId: 'alice' })).toBe(2);
        const hits = await index.search('c1', vec(rng(18)), { k: 10, filter: { identityId: 'alice' } });
        expect(hits.map((h) => h.id).sort()).toEqual(['s1', 's2']);
      });

      it('removes keys whose patch value is undefined', async () => {
        await index.setPayload('c1', ['s4'], { personId: undefined, identityId: 'bob' });
        expect((await index.get('c1', ['s4']))[0]!.payload).toEqual({ photoKey: 'photo-s4', quality: 0.5, identityId: 'bob' });
        expect(await index.count('c1', { personId: 'cluster-a' })).toBe(9);
      });

      it('can move a face to another photoKey', async () => {
        await index.setPayload('c1', ['s5'], { photoKey: 'elsewhere' });
        expect(await index.count('c1', { photoKey: 'elsewhere' })).toBe(1);
        expect(await index.count('c1', { photoKey: 'photo-s5' })).toBe(0);
      });
    });

    describe('delete', () => {
      beforeEach(async () => {
        await index.ensureCollection('c1', DIM);
        const fs = faces(rng(19), 40, 'd').map((f, i) => ({ ...f, payload: { photoKey: `photo${i % 4}`, personId: `person${i % 5}` } }));
        await index.upsert('c1', fs);
      });

      it('deletes by ids and returns how many were deleted (missing and repeated ids not counted)', async () => {
        expect(await index.delete('c1', { ids: ['d1', 'd2', 'd2', 'nope'] })).toBe(2);
        expect(await index.count('c1')).toBe(38);
        expect(await index.get('c1', ['d1', 'd2', 'd3'])).toEqual([null, null, expect.objectContaining({ id: 'd3' })]);
        expect(await index.delete('c1', { ids: ['d1'] })).toBe(0);
        expect(await index.delete('c1', { ids: [] })).toBe(0);
      });

      it('deletes by filter, and by ids restricted to a filter', async () => {
        expect(await index.delete('c1', { filter: { photoKey: 'photo1' } })).toBe(10);
        expect(await index.count('c1')).toBe(30);
        expect(await index.count('c1', { photoKey: 'photo1' })).toBe(0);
        // d0 and d10 are person0, d2 is person2: only the ids that match the filter go.
        expect(await index.delete('c1', { ids: ['d0', 'd2', 'd10'], filter: { personId: 'person0' } })).toBe(2);
        expect(await index.count('c1')).toBe(28);
        expect(await index.delete('c1', { filter: { photoKey: 'photo0', personId: 'person2' } })).toBe(2);
        expect(await index.count('c1')).toBe(26);
      });

      it('never returns deleted faces from search or scroll', async () => {
        await index.delete('c1', { filter: { personId: 'person3' } });
        const hits = await index.search('c1', vec(rng(20)), { k: 40 });
        expect(hits).toHaveLength(32);
        for (const h of hits) expect(h.payload.personId).not.toBe('person3');
        const all = await scrollAll(index, 'c1', 9);
        expect(all).toHaveLength(32);
      });

      it('lets a deleted id be upserted again', async () => {
        await index.delete('c1', { ids: ['d7'] });
        const again = faces(rng(21), 1, 'x', { photoKey: 'back' })[0];
        await index.upsert('c1', [{ ...again, id: 'd7' }]);
        expect(await index.count('c1')).toBe(40);
        expect((await index.get('c1', ['d7']))[0]!.payload.photoKey).toBe('back');
      });
    });

    describe('scroll', () => {
      beforeEach(async () => {
        await index.ensureCollection('c1', DIM);
        const fs = faces(rng(22), 53, 'p').map((f, i) => ({ ...f, payload: { photoKey: `photo${i % 3}` } }));
        await index.upsert('c1', fs.slice(0, 20));
        await index.upsert('c1', fs.slice(20));
      });

      it('pages through everything exactly once, in a stable order', async () => {
        const first = await scrollAll(index, 'c1', 7);
        expect(first).toHaveLength(53);
        expect(new Set(first).size).toBe(53);
        expect(await scrollAll(index, 'c1', 7)).toEqual(first);
        expect(await scrollAll(index, 'c1', 100)).toEqual(first);
        // Re-upserting and updating faces does not move them.
        await index.upsert('c1', faces(rng(23), 5, 'p').map((f, i) => ({ ...f, payload: { photoKey: `photo${i % 3}` } })));
        await index.setPayload('c1', ['p10'], { personId: 'z' });
        expect(await scrollAll(index, 'c1', 7)).toEqual(first);
      });

      it('pages through a filter exactly once', async () => {
        const ids = await scrollAll(index, 'c1', 4, { photoKey: 'photo1' });
        expect(ids).toHaveLength(18);
        expect(new Set(ids).size).toBe(18);
        for (const id of ids) expect(Number(id.slice(1)) % 3).toBe(1);
      });

      it('returns payloads and no next on the last page', async () => {
        const page = await index.scroll('c1', { limit: 60 });
        expect(page.items).toHaveLength(53);
        expect(page.next).toBeUndefined();
        expect(page.items[0].payload.photoKey).toMatch(/^photo\d$/);
      });
    });
  });
}

// ── helpers ──────────────────────────────────────────────────────────────────────────────────

function faces(r: () => number, n: number, prefix: string, payload: Partial<FacePayload> = {}, dims = DIM): IndexedFace[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    vector: vec(r, dims),
    payload: { photoKey: `photo-${prefix}${i}`, ...payload },
  }));
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function bruteForce(data: IndexedFace[], query: Float32Array, k: number): { id: string; score: number }[] {
  return data
    .map((f) => ({ id: f.id, score: dot(f.vector, query) }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k);
}

function overlap(hits: Hit[], truth: { id: string }[]): number {
  const t = new Set(truth.map((x) => x.id));
  return hits.filter((h) => t.has(h.id)).length;
}

function expectSorted(hits: Hit[]): void {
  for (let i = 1; i < hits.length; i++) expect(hits[i - 1].score).toBeGreaterThanOrEqual(hits[i].score);
}

async function scrollAll(index: FaceIndex, collection: string, limit: number, filter?: Parameters<FaceIndex['count']>[1]): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const page = await index.scroll(collection, { limit, cursor, filter });
    expect(page.items.length).toBeLessThanOrEqual(limit);
    ids.push(...page.items.map((h) => h.id));
    if (!page.next) return ids;
    cursor = page.next;
  }
  throw new Error('scroll did not end');
}

async function expectCode(p: Promise<unknown>, code: FaceIndexErrorCode): Promise<void> {
  const err = await p.then(
    () => new Error(`expected ${code}, but it succeeded`),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FaceIndexError);
  expect((err as FaceIndexError).code).toBe(code);
}
