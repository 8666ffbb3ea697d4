import type { PhotoResult } from '@facepipe/contracts';
import type { Redis } from 'ioredis';
import { JobStore } from './job-store';
import { PipelineError } from './pipeline-error';
import { deleteKeys, jobWith, testRedis, uniquePrefix } from './test-support';

const done = (key: string, faces = 1): PhotoResult => ({
  key,
  status: 'done',
  faces: Array.from({ length: faces }, (_, i) => ({ faceId: `f${key}${i}`, box: [0, 0, 10, 10], score: 0.9, quality: 0.8, personId: `person_${i}` })),
});
const failed = (key: string): PhotoResult => ({ key, status: 'failed', faces: [], error: { code: 'IMAGE_DECODE_FAILED', message: 'not an image' } });

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return err instanceof PipelineError ? err.code : `not a PipelineError: ${String(err)}`;
  }
  return undefined;
}

const WEEK = 7 * 86_400;

describe('JobStore', () => {
  const prefix = uniquePrefix('jobs');
  let redis: Redis;
  let store: JobStore;

  beforeAll(() => {
    redis = testRedis();
    store = new JobStore(redis, prefix, WEEK);
  });

  afterAll(async () => {
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  it('creates and gets a job', async () => {
    const view = await store.create({ collection: 'c1', sealed: false });
    expect(view.id).toMatch(/^j[0-9a-f]{24}$/);
    expect(view).toMatchObject({ collection: 'c1', state: 'queued', sealed: false, total: 0, done: 0, failed: 0, faces: 0 });
    expect(Date.parse(view.createdAt)).not.toBeNaN();
    expect(view).not.toHaveProperty('webhook');
    expect(view).not.toHaveProperty('finishedAt');
    expect(await store.get(view.id)).toEqual(view);
    expect(await redis.exists(`${prefix}:job:${view.id}`)).toBe(1);
  });

  it('returns null or JOB_NOT_FOUND for unknown and malformed ids', async () => {
    expect(await store.get('j000000000000000000000000')).toBeNull();
    expect(await store.get('../../etc')).toBeNull();
    expect(await codeOf(store.addPhotos('j000000000000000000000000', ['a']))).toBe('JOB_NOT_FOUND');
    expect(await codeOf(store.settlePhoto('nope', done('a')))).toBe('JOB_NOT_FOUND');
    expect(await codeOf(store.seal('j000000000000000000000000'))).toBe('JOB_NOT_FOUND');
    expect(await codeOf(store.results('j000000000000000000000000', { limit: 10 }))).toBe('JOB_NOT_FOUND');
    expect(await store.webhookOf('j000000000000000000000000')).toBeNull();
  });

  it('adds each key once, answering the new ones, and refuses photos once sealed', async () => {
    const { id } = await store.create({ collection: 'c', sealed: false });
    expect(await store.addPhotos(id, ['a', 'b', 'a'])).toEqual({ added: ['a', 'b'], token: `${id}:0:2` });
    expect(await store.addPhotos(id, ['b', 'c'])).toEqual({ added: ['c'], token: `${id}:2:3` });
    expect(await store.addPhotos(id, ['a'])).toEqual({ added: [], token: null });
    expect(await store.addPhotos(id, [])).toEqual({ added: [], token: null });
    expect((await store.get(id))?.total).toBe(3);
    await store.seal(id);
    const err = await store.addPhotos(id, ['d']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PipelineError);
    expect(err).toMatchObject({ code: 'JOB_SEALED', status: 409 });
    expect((await store.get(id))?.total).toBe(3);
  });

  it('completes a job created sealed at once: it is empty', async () => {
    const empty = await store.create({ collection: 'c', sealed: true });
    expect(empty).toMatchObject({ state: 'completed', total: 0, sealed: true });
    expect(empty.finishedAt).toBeDefined();
  });

  it('lists the jobs created open whose creator never marked them answered, once they are old enough', async () => {
    const own = new JobStore(redis, `${prefix}-creates`, WEEK);
    const answered = await own.create({ collection: 'c', sealed: false });
    await own.markAnswered(answered.id);
    const orphan = await own.create({ collection: 'c', sealed: false });
    await own.create({ collection: 'c', sealed: true }); // complete at once: nothing to finish
    expect(await own.unansweredCreates(Date.now() - 60_000)).toEqual([]); // too recent: its gateway may still be answering
    expect(await own.unansweredCreates(Date.now() + 1)).toEqual([orphan.id]);
    await own.markAnswered(orphan.id);
    expect(await own.unansweredCreates(Date.now() + 1)).toEqual([]);
    await deleteKeys(redis, `${prefix}-creates`);
  });

  it('lists the adds never marked queued, with their unsettled photos, once they are old enough', async () => {
    const own = new JobStore(redis, `${prefix}-adds`, WEEK);
    const { id } = await own.create({ collection: 'c', sealed: false });
    const queued = await own.addPhotos(id, ['q1', 'q2']);
    await own.markQueued(queued.token!);
    const lost = await own.addPhotos(id, ['l1', 'l2', 'l3']);
    await own.settlePhoto(id, done('l2')); // settled anyway (say, PHOTO_IN_PROGRESS before the crash)
    expect(await own.strandedAdds(Date.now() - 60_000)).toEqual([]); // too recent: its gateway may still be queueing
    expect(await own.strandedAdds(Date.now() + 1)).toEqual([{ token: lost.token, jobId: id, collection: 'c', keys: ['l1', 'l3'] }]);
    await own.markQueued(lost.token!);
    expect(await own.strandedAdds(Date.now() + 1)).toEqual([]);
    // An add whose job has gone (expired, or its collection deleted) is dropped.
    const gone = await own.create({ collection: 'c', sealed: false });
    await own.addPhotos(gone.id, ['x']);
    await redis.del(own.keys(gone.id).meta);
    expect(await own.strandedAdds(Date.now() + 1)).toEqual([]);
    expect(await redis.zcard(`${prefix}-adds:jobs:adding`)).toBe(0);
    await deleteKeys(redis, `${prefix}-adds`);
  });

  it('counts a photo once however often it settles', async () => {
    const id = await jobWith(store, { collection: 'c', sealed: false }, ['a', 'b']);
    expect(await store.settlePhoto(id, done('a', 2))).toEqual({ completedNow: false });
    expect(await store.settlePhoto(id, done('a', 2))).toEqual({ completedNow: false });
    expect(await store.get(id)).toMatchObject({ state: 'running', done: 1, failed: 0, faces: 2 });
    expect(await codeOf(store.settlePhoto(id, done('never-added')))).toBe('PHOTO_NOT_IN_JOB');
  });

  it('re-settling done → failed moves the counts and keeps completion', async () => {
    const id = await jobWith(store, { collection: 'c', sealed: true }, ['a', 'b']);
    await store.settlePhoto(id, done('a', 3));
    expect(await store.settlePhoto(id, done('b', 1))).toEqual({ completedNow: true });
    expect(await store.get(id)).toMatchObject({ state: 'completed', done: 2, failed: 0, faces: 4 });
    expect(await store.settlePhoto(id, failed('a'))).toEqual({ completedNow: false });
    expect(await store.get(id)).toMatchObject({ state: 'completed', done: 1, failed: 1, faces: 1 });
    expect(await store.settlePhoto(id, failed('b'))).toEqual({ completedNow: false });
    expect(await store.get(id)).toMatchObject({ state: 'failed', done: 0, failed: 2, faces: 0 });
    expect(await store.settlePhoto(id, done('a', 2))).toEqual({ completedNow: false });
    expect(await store.get(id)).toMatchObject({ done: 1, failed: 1, faces: 2 });
    const { items } = await store.results(id, { limit: 10 });
    expect(items).toEqual([done('a', 2), failed('b')]);
  });

  it('reports completedNow exactly once under 200 concurrent settles, duplicates included', async () => {
    const keys = Array.from({ length: 120 }, (_, i) => `photo-${i}`);
    const id = await jobWith(store, { collection: 'c', sealed: true }, keys);
    // 120 first settles and 80 duplicates, interleaved, on two connections.
    const second = redis.duplicate();
    const other = new JobStore(second, prefix, WEEK);
    const calls = [...keys, ...keys.slice(0, 80)].map((key, i) => {
      const s = i % 2 === 0 ? store : other;
      return s.settlePhoto(id, i % 3 === 0 && key.endsWith('7') ? failed(key) : done(key, 1));
    });
    const outcomes = await Promise.all(calls);
    await second.quit();
    expect(outcomes.filter((o) => o.completedNow)).toHaveLength(1);
    const view = await store.get(id);
    expect(view?.state).not.toBe('running');
    expect(view!.done + view!.failed).toBe(120);
    expect(view!.faces).toBe(view!.done);
    const { items } = await store.results(id, { limit: 1000 });
    expect(items.map((r) => r.key)).toEqual(keys);
    expect(items.filter((r) => r.status === 'failed')).toHaveLength(view!.failed);
  });

  it('completes on seal when every photo settled before', async () => {
    const id = await jobWith(store, { collection: 'c', sealed: false }, ['a', 'b']);
    expect(await store.settlePhoto(id, done('a'))).toEqual({ completedNow: false });
    expect(await store.settlePhoto(id, failed('b'))).toEqual({ completedNow: false });
    expect((await store.get(id))?.state).toBe('running');
    const sealed = await store.seal(id);
    expect(sealed.completedNow).toBe(true);
    expect(sealed.view).toMatchObject({ state: 'completed', sealed: true, done: 1, failed: 1 });
    expect(sealed.view.finishedAt).toBeDefined();
    expect((await store.seal(id)).completedNow).toBe(false);
  });

  it('pages results in insertion order with a cursor, skipping pending photos', async () => {
    const keys = Array.from({ length: 25 }, (_, i) => `k${String(i).padStart(2, '0')}`).reverse(); // not sorted
    const id = await jobWith(store, { collection: 'c', sealed: false }, keys);
    // settle in a different order from insertion, leaving every fifth one pending
    for (const key of [...keys].sort()) if (!key.endsWith('0') && !key.endsWith('5')) await store.settlePhoto(id, done(key));
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.results(id, { cursor, limit: 7 });
      expect(page.items.length).toBeLessThanOrEqual(7);
      seen.push(...page.items.map((r) => r.key));
      cursor = page.next;
      pages++;
    } while (cursor);
    expect(seen).toEqual(keys.filter((k) => !k.endsWith('0') && !k.endsWith('5')));
    expect(pages).toBe(3);
    // 20 settled: a page of 20 ends on the last settled one, but a pending key follows it.
    expect((await store.results(id, { limit: 20 })).next).toBe('24');
    expect(await store.results(id, { cursor: '24', limit: 20 })).toEqual({ items: [] });
    expect((await store.results(id, { limit: 21 })).next).toBeUndefined();
    expect(await codeOf(store.results(id, { cursor: 'garbage', limit: 5 }))).toBe('INVALID_CURSOR');
  });

  it('keeps the webhook secret out of the view and records deliveries', async () => {
    const view = await store.create({ collection: 'c', sealed: true, webhook: { url: 'https://example.test/hook', secret: 's3cret' } });
    expect(view.webhook).toEqual({ url: 'https://example.test/hook', deliveries: [] });
    expect(JSON.stringify(await store.get(view.id))).not.toContain('s3cret');
    expect(await store.webhookOf(view.id)).toEqual({ url: 'https://example.test/hook', secret: 's3cret' });
    await store.recordDelivery(view.id, { at: '2025-01-01T00:00:00.000Z', status: null, error: 'ECONNREFUSED' });
    await store.recordDelivery(view.id, { at: '2025-01-01T00:00:02.000Z', status: 200 });
    expect((await store.get(view.id))?.webhook?.deliveries).toEqual([
      { at: '2025-01-01T00:00:00.000Z', status: null, error: 'ECONNREFUSED' },
      { at: '2025-01-01T00:00:02.000Z', status: 200 },
    ]);
    const plain = await store.create({ collection: 'c', sealed: false, webhook: { url: 'https://example.test/h2' } });
    expect(await store.webhookOf(plain.id)).toEqual({ url: 'https://example.test/h2' });
    expect(await store.webhookOf((await store.create({ collection: 'c', sealed: false })).id)).toBeNull();
  });

  it('scans every job of its prefix with the asked fields, and none of another prefix', async () => {
    const own = new JobStore(redis, `${prefix}-scan`, WEEK);
    const other = new JobStore(redis, `${prefix}-scan-other`, WEEK);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await own.create({ collection: `c${i}`, sealed: i === 0 })).id);
    await other.create({ collection: 'c9', sealed: false });
    const seen = [];
    for await (const job of own.scan(['collection', 'finishedAt'])) seen.push(job);
    expect(seen.sort((a, b) => a.fields[0]!.localeCompare(b.fields[0]!))).toEqual([
      { id: ids[0], fields: ['c0', expect.any(String)] },
      { id: ids[1], fields: ['c1', null] },
      { id: ids[2], fields: ['c2', null] },
    ]);
    await deleteKeys(redis, `${prefix}-scan`);
    await deleteKeys(redis, `${prefix}-scan-other`);
  });

  describe('retention', () => {
    /** Seconds left on each of a job's four keys (-2: no such key, -1: no expiry). */
    const ttls = async (id: string) => {
      const k = store.keys(id);
      return Promise.all([k.meta, k.keys, k.results, k.deliveries].map((key) => redis.ttl(key)));
    };

    it('keeps an open or running job without expiry', async () => {
      const id = await jobWith(store, { collection: 'c', sealed: false }, ['a', 'b']);
      await store.settlePhoto(id, done('a'));
      await store.recordDelivery(id, { at: '2025-01-01T00:00:00.000Z', status: 500 });
      expect(await ttls(id)).toEqual([-1, -1, -1, -1]);
      await store.seal(id); // sealed, one photo still pending: running
      expect(await ttls(id)).toEqual([-1, -1, -1, -1]);
    });

    it('starts the retention of all four keys when the job completes, whichever call completes it', async () => {
      const settled = await jobWith(store, { collection: 'c', sealed: true }, ['a']);
      await store.recordDelivery(settled, { at: '2025-01-01T00:00:00.000Z', status: 500 });
      await store.settlePhoto(settled, done('a'));
      const sealed = await jobWith(store, { collection: 'c', sealed: false }, ['a']);
      await store.settlePhoto(sealed, done('a'));
      await store.seal(sealed);
      const empty = await store.create({ collection: 'c', sealed: true });
      for (const [id, withDeliveries] of [[settled, true], [sealed, false], [empty.id, false]] as const) {
        const [meta, keys, results, deliveries] = await ttls(id);
        expect(meta).toBeGreaterThan(WEEK - 60);
        expect(meta).toBeLessThanOrEqual(WEEK);
        if (id !== empty.id) expect([keys, results]).toEqual([meta, meta]);
        expect(deliveries).toBe(withDeliveries ? meta : -2);
      }
    });

    it('lets keys written after completion expire with the job', async () => {
      const id = await jobWith(store, { collection: 'c', sealed: true }, ['a']);
      await store.settlePhoto(id, done('a'));
      await redis.expire(store.keys(id).meta, 1_000); // as if most of the week had passed
      await store.recordDelivery(id, { at: '2025-01-01T00:00:00.000Z', status: 200 });
      await redis.del(store.keys(id).results); // an erase took the only result out
      await store.settlePhoto(id, failed('a')); // and a late re-run settles the photo again
      const [meta, , results, deliveries] = await ttls(id);
      expect(meta).toBeLessThanOrEqual(1_000);
      expect(results).toBeGreaterThan(990);
      expect(results).toBeLessThanOrEqual(meta);
      expect(deliveries).toBeGreaterThan(990);
      expect(deliveries).toBeLessThanOrEqual(meta);
    });

    it('forgets a completed job once its retention has passed', async () => {
      const brief = new JobStore(redis, prefix, 1);
      const id = await jobWith(brief, { collection: 'c', sealed: true }, ['a']);
      await brief.settlePhoto(id, done('a'));
      await brief.recordDelivery(id, { at: '2025-01-01T00:00:00.000Z', status: 200 });
      expect(await brief.get(id)).toMatchObject({ state: 'completed' });
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      expect(await brief.get(id)).toBeNull();
      expect(await codeOf(brief.results(id, { limit: 10 }))).toBe('JOB_NOT_FOUND');
      const k = brief.keys(id);
      expect(await redis.exists(k.meta, k.keys, k.results, k.deliveries)).toBe(0);
    });

    it('keeps a completed job for ever with retention 0', async () => {
      const forever = new JobStore(redis, prefix, 0);
      const id = await jobWith(forever, { collection: 'c', sealed: true }, ['a']);
      await forever.settlePhoto(id, done('a'));
      await forever.recordDelivery(id, { at: '2025-01-01T00:00:00.000Z', status: 200 });
      expect(await forever.get(id)).toMatchObject({ state: 'completed' });
      expect(await ttls(id)).toEqual([-1, -1, -1, -1]);
    });

    it('refuses a retention that is not a whole number of seconds', () => {
      expect(() => new JobStore(redis, prefix, -1)).toThrow(RangeError);
      expect(() => new JobStore(redis, prefix, 1.5)).toThrow(RangeError);
    });
  });
});
