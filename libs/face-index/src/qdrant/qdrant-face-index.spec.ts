/**
 * The Qdrant index against a real Qdrant server: the shared conformance suite, then what only this
 * backend has to get right (its collection layout, payload indexes, batching, close).
 *
 *   QDRANT_URL=http://127.0.0.1:6333 [QDRANT_API_KEY=…] npx jest -c libs/face-index/jest.config.js qdrant
 *
 * Without QDRANT_URL the suite is skipped, loudly: a warning and one skipped test that says why.
 * Every run uses its own collection prefix (`fptest<time><random>_<n>`, one n per test) and drops
 * the collections it created, so runs can share a server and never touch anything else.
 */
import type { QdrantClient } from '@qdrant/js-client-rest' with { 'resolution-mode': 'import' };
import { describeFaceIndexConformance, rng, unit } from '../conformance/face-index.conformance';
import { FaceIndexError } from '../errors';
import type { IndexedFace } from '../face-index';
import { FILTER_FIELDS } from '../validation';
import { QdrantFaceIndex } from './qdrant-face-index';
import { clientParams } from './qdrant-options';

const url = process.env.QDRANT_URL?.trim() || undefined;
const apiKey = process.env.QDRANT_API_KEY?.trim() || undefined;

if (url === undefined) {
  console.warn(
    'QdrantFaceIndex: QDRANT_URL is not set, so the Qdrant conformance suite is SKIPPED. ' +
      'Set QDRANT_URL (and QDRANT_API_KEY when the server needs one) to a Qdrant server to run it.',
  );
  describe('QdrantFaceIndex against a Qdrant server', () => {
    it.skip('SKIPPED: QDRANT_URL is not set (no Qdrant server to test against)', () => undefined);
  });
} else {
  describeQdrant(url);
}

function describeQdrant(serverUrl: string): void {
  const runPrefix = `fptest${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  let tests = 0;
  let admin: QdrantClient;

  beforeAll(async () => {
    const { QdrantClient } = await import('@qdrant/js-client-rest');
    admin = new QdrantClient(clientParams({ url: serverUrl, apiKey, timeoutMs: 30_000 }));
  });

  /** Drops this run's collections (all of them, or those of one test's prefix). */
  async function dropCollections(prefix = runPrefix): Promise<void> {
    const { collections } = await admin.getCollections();
    for (const { name } of collections) if (name.startsWith(`${prefix}_`)) await admin.deleteCollection(name);
  }
  afterAll(async () => {
    if (admin) await dropCollections();
  });

  /** An index with a prefix of its own, so each test starts empty. */
  async function openIndex(options: { batchSize?: number } = {}): Promise<{ index: QdrantFaceIndex; prefix: string }> {
    const prefix = `${runPrefix}_${++tests}`;
    return { index: await QdrantFaceIndex.open({ url: serverUrl, apiKey, collectionPrefix: prefix, ...options }), prefix };
  }

  describeFaceIndexConformance('QdrantFaceIndex', async () => {
    const { index, prefix } = await openIndex();
    return {
      index,
      cleanup: async () => {
        await index.close();
        await dropCollections(prefix);
      },
    };
  });

  describe('QdrantFaceIndex specifics', () => {
    const DIM = 16;
    let index: QdrantFaceIndex;
    let prefix: string;
    beforeEach(async () => {
      ({ index, prefix } = await openIndex({ batchSize: 7 }));
    });
    afterEach(async () => {
      await index.close();
      await dropCollections(prefix);
    });

    function makeFaces(seed: number, n: number): IndexedFace[] {
      const r = rng(seed);
      return Array.from({ length: n }, (_, i) => ({
        id: `q${i}`,
        vector: unit(r, DIM),
        payload: { photoKey: `photo${i % 3}`, personId: `person${i % 2}`, kind: i % 2 === 0 ? 'identity' : 'person' },
      }));
    }

    it('stores one Qdrant collection per facepipe collection: cosine, keyword indexes on every filter field', async () => {
      await index.ensureCollection('family', DIM);
      expect(index.qdrantCollection('family')).toBe(`${prefix}_family`);
      const info = await admin.getCollection(`${prefix}_family`);
      expect(info.config.params.vectors).toMatchObject({ size: DIM, distance: 'Cosine' });
      for (const field of FILTER_FIELDS) expect(info.payload_schema[field]?.data_type).toBe('keyword');
    });

    it('adds payload indexes missing from an existing collection', async () => {
      await index.ensureCollection('c1', DIM);
      await admin.deletePayloadIndex(`${prefix}_c1`, 'kind', { wait: true });
      expect((await admin.getCollection(`${prefix}_c1`)).payload_schema.kind).toBeUndefined();
      await index.ensureCollection('c1', DIM);
      expect((await admin.getCollection(`${prefix}_c1`)).payload_schema.kind?.data_type).toBe('keyword');
    });

    it('keeps the face id in the payload of a UUID point and hides it from callers', async () => {
      await index.ensureCollection('c1', DIM);
      const [face] = makeFaces(1, 1);
      await index.upsert('c1', [face]);
      const { points } = await admin.scroll(`${prefix}_c1`, { limit: 10, with_payload: true });
      expect(points).toHaveLength(1);
      expect(String(points[0].id)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5/);
      expect(points[0].payload).toMatchObject({ __faceId: 'q0', photoKey: 'photo0' });
      expect((await index.get('c1', ['q0']))[0]?.payload).toEqual(face.payload);
      await expect(index.upsert('c1', [{ ...face, payload: { photoKey: 'p', __faceId: 'evil' } }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });

    it('upserts, gets, filters and deletes across many batches, counting exactly', async () => {
      await index.ensureCollection('c1', DIM);
      const fs = makeFaces(2, 50); // batches of 7
      await index.upsert('c1', fs);
      expect(await index.count('c1')).toBe(50);
      expect(await index.count('c1', { kind: 'identity' })).toBe(25);
      const got = await index.get('c1', fs.map((f) => f.id));
      expect(got.map((h) => h?.id)).toEqual(fs.map((f) => f.id));
      const hits = await index.search('c1', fs[9].vector, { k: 3, filter: { kind: 'person' }, exact: true });
      expect(hits[0]).toMatchObject({ id: 'q9' });
      for (const h of hits) expect(h.payload.kind).toBe('person');
      expect(await index.delete('c1', { filter: { photoKey: 'photo1' } })).toBe(17);
      // Left: the 33 faces with i % 3 ≠ 1, of which 17 have an even i (person0).
      expect(await index.delete('c1', { ids: fs.map((f) => f.id), filter: { personId: 'person0' } })).toBe(17);
      expect(await index.count('c1')).toBe(16);
      expect(await index.count('c1', { personId: 'person0' })).toBe(0);
    });

    it('finds a collection re-created elsewhere with another dimension', async () => {
      const other = await QdrantFaceIndex.open({ url: serverUrl, apiKey, collectionPrefix: prefix });
      try {
        await index.ensureCollection('c1', DIM);
        await index.upsert('c1', makeFaces(3, 2));
        await other.dropCollection('c1');
        await other.ensureCollection('c1', 2 * DIM);
        // `index` cached DIM; the 2·DIM vector is checked again against the server, not refused.
        await index.upsert('c1', [{ id: 'wide', vector: unit(rng(4), 2 * DIM), payload: { photoKey: 'p' } }]);
        expect(await other.count('c1')).toBe(1);
      } finally {
        await other.close();
      }
    });

    it('refuses every call once closed (INDEX_CLOSED)', async () => {
      await index.ensureCollection('c1', DIM);
      await index.close();
      const err = await index.count('c1').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FaceIndexError);
      expect((err as FaceIndexError).code).toBe('INDEX_CLOSED');
      await expect(index.ensureCollection('c2', DIM)).rejects.toMatchObject({ code: 'INDEX_CLOSED' });
    });
  });
}
