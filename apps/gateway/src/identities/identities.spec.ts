// Identities and the gateway side of the synchronous calls, against the real Redis with no
// workers running: records, paging, externalId uniqueness, the collection threshold, what a sync
// call enqueues, how a worker's answer (or none) comes back, and that its photo is not kept.
// e2e/recognition.spec.ts runs the same calls through the real workers and models.
import { DEFAULT_MATCH_THRESHOLD, PRIORITY, type SyncDetectJob, identitiesKey } from '@facepipe/contracts';
import { defaultManifest } from '@facepipe/face-engine';
import { RequestError, errorReply, sendReply } from '@facepipe/pipeline';
import { type Job, Worker } from 'bullmq';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { DEMO_DIR, type Json, type TestGateway, startTestGateway, waitFor } from '../testing/test-gateway';

const photo = readFileSync(path.join(DEMO_DIR, 'sample1.jpg'));
const blobPath = (gw: TestGateway, blobId: string) => path.join(gw.dataDir, 'blobs', blobId.slice(0, 2), blobId);
/** Every stored photo blob (blobs/<2 hex>/<id>), not thumbnails or temp files. */
const storedBlobs = (gw: TestGateway): string[] => {
  const root = path.join(gw.dataDir, 'blobs');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((d) => /^[0-9a-f]{2}$/.test(d))
    .flatMap((d) => readdirSync(path.join(root, d)));
};

function upload(fields: Record<string, Buffer | string>): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value === 'string') form.append(name, value);
    else form.append(name, new Blob([value], { type: 'image/jpeg' }), `${name}.jpg`);
  }
  return form;
}

/** An object nested `levels` deep, itself included: {x: {x: … {}}}. */
function nested(levels: number): Record<string, unknown> {
  let v: Record<string, unknown> = {};
  for (let i = 1; i < levels; i++) v = { x: v };
  return v;
}

describe('identities and synchronous calls (gateway)', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway({ FACEPIPE_SYNC_TIMEOUT_MS: '1500', FACEPIPE_RATE_LIMIT: '0' });
    for (const name of ['people', 'paging', 'sync']) expect((await gw.fetch('/v1/collections', { method: 'POST', json: { name } })).status).toBe(201);
  });

  afterAll(async () => {
    await gw.close();
  });

  const create = (collection: string, json: unknown) => gw.fetch(`/v1/collections/${collection}/identities`, { method: 'POST', json });

  it("keeps the default threshold equal to the model manifest's", () => {
    expect(DEFAULT_MATCH_THRESHOLD).toBe(defaultManifest().embedder.threshold);
  });

  describe('records', () => {
    it('creates, reads, changes and refuses a duplicate externalId with 409', async () => {
      const a = await create('people', { name: 'Ada', externalId: 'emp-1', metadata: { floor: 3, tags: [] } });
      expect(a.status).toBe(201);
      expect(a.body).toEqual({ id: expect.stringMatching(/^i[0-9a-f]{24}$/), name: 'Ada', externalId: 'emp-1', metadata: { floor: 3, tags: [] }, createdAt: expect.any(String) });
      const dup = await create('people', { name: 'Someone else', externalId: 'emp-1' });
      expect(dup.status).toBe(409);
      expect(dup.body.error).toEqual({ code: 'EXTERNAL_ID_EXISTS', message: expect.stringContaining(a.body.id) });

      const b = await create('people', { name: 'Bea', externalId: 'emp-2' });
      // Taking another identity's externalId is refused; giving up one's own frees it.
      expect((await gw.fetch(`/v1/collections/people/identities/${b.body.id}`, { method: 'PATCH', json: { externalId: 'emp-1' } })).status).toBe(409);
      const renamed = await gw.fetch(`/v1/collections/people/identities/${a.body.id}`, { method: 'PATCH', json: { name: 'Ada L.', externalId: 'emp-9', metadata: null } });
      expect(renamed.status).toBe(200);
      expect(renamed.body).toEqual({ id: a.body.id, name: 'Ada L.', externalId: 'emp-9', createdAt: a.body.createdAt, updatedAt: expect.any(String) });
      expect((await gw.fetch(`/v1/collections/people/identities/${b.body.id}`, { method: 'PATCH', json: { externalId: 'emp-1' } })).status).toBe(200);
      const byExternal = await gw.fetch('/v1/collections/people/identities?externalId=emp-1');
      expect(byExternal.body).toEqual({ items: [expect.objectContaining({ id: b.body.id, name: 'Bea' })] });
      expect((await gw.fetch('/v1/collections/people/identities?externalId=emp-2')).body).toEqual({ items: [] });
      expect(JSON.parse((await gw.redis.hget(identitiesKey(gw.prefix, 'people'), a.body.id))!)).toMatchObject({ name: 'Ada L.' });
    });

    it.each([
      ['no name', {}, 'name'],
      ['an empty name', { name: '' }, 'name'],
      ['a name over 200 characters', { name: 'x'.repeat(201) }, 'name'],
      ['a numeric externalId', { name: 'Ok', externalId: 7 }, 'externalId'],
      // Stored as UTF-8, every lone surrogate would become U+FFFD: distinct ids would collide.
      ['an externalId with a lone surrogate', { name: 'Ok', externalId: 'emp-\ud800' }, 'externalId'],
      ['a name with a control character', { name: 'Ada\u0000' }, 'name'],
      ['a name with a C1 control character', { name: 'Ada\u009b2J' }, 'name'],
      ['metadata that is not an object', { name: 'Ok', metadata: [1] }, 'metadata'],
      ['metadata over 16 KiB', { name: 'Ok', metadata: { big: 'x'.repeat(17_000) } }, 'metadata'],
      ['metadata nested 33 levels', { name: 'Ok', metadata: nested(33) }, 'metadata'],
      ['an unknown field', { name: 'Ok', extra: true }, ''],
    ])('refuses %s with 400 VALIDATION_FAILED', async (_label, body, field) => {
      const res = await create('people', body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.message).toContain(field);
    });

    it('refuses metadata nested 40 levels, and 20,000 levels (40 KB, under the body limit) without overflowing the stack', async () => {
      for (const method of ['POST', 'PATCH']) {
        const route = method === 'POST' ? '/v1/collections/people/identities' : `/v1/collections/people/identities/${(await create('people', { name: 'Flat' })).body.id}`;
        const send = (levels: number) =>
          gw.fetch(route, { method, headers: { 'content-type': 'application/json' }, body: `{"name":"Deep","metadata":{"a":${'['.repeat(levels)}${']'.repeat(levels)}}}` });
        const deeper = await send(40);
        expect(deeper.status).toBe(400);
        expect(deeper.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'metadata', message: expect.stringContaining('at most 32 levels') });
        // Past the body's own limit (64 levels) the parser refuses it from its bytes.
        const deepest = await send(20_000);
        expect(deepest.status).toBe(400);
        expect(deepest.body.error).toEqual({ code: 'INVALID_JSON', message: 'The JSON body nests deeper than 64 levels' });
      }
    });

    it('keeps metadata nested up to 32 levels', async () => {
      const res = await create('people', { name: 'Deep', metadata: nested(32) });
      expect(res.status).toBe(201);
      expect(res.body.metadata).toEqual(nested(32));
    });

    it('keeps every member name of metadata, "constructor" and "__proto__" included', async () => {
      const raw = '{"name":"Keys","metadata":{"constructor":1,"__proto__":{"b":2},"toString":"x","a":{"__proto__":[3]}}}';
      const res = await gw.fetch('/v1/collections/people/identities', { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw });
      expect(res.status).toBe(201);
      const listed = (await gw.fetch('/v1/collections/people/identities?limit=100')).body.items.find((i: { id: string }) => i.id === res.body.id);
      for (const body of [res.body, listed]) expect(JSON.stringify(body.metadata)).toBe('{"constructor":1,"__proto__":{"b":2},"toString":"x","a":{"__proto__":[3]}}');
    });

    it('refuses a cursor it did not give, with or without externalId', async () => {
      for (const query of ['cursor=garbage', 'externalId=emp-1&cursor=garbage']) {
        const res = await gw.fetch(`/v1/collections/people/identities?${query}`);
        expect([res.status, res.body.error.code]).toEqual([400, 'INVALID_CURSOR']);
      }
    });

    it('answers 404 for an unknown identity or collection', async () => {
      for (const [method, route] of [
        ['PATCH', '/v1/collections/people/identities/i000000000000000000000000'],
        ['DELETE', '/v1/collections/people/identities/i000000000000000000000000'],
        ['GET', '/v1/collections/people/identities/not-an-id'],
      ]) {
        const res = await gw.fetch(route, { method, ...(method === 'PATCH' ? { json: { name: 'x' } } : {}) });
        expect({ route, status: res.status, code: res.body.error.code }).toEqual({ route, status: 404, code: 'IDENTITY_NOT_FOUND' });
      }
      for (const res of [await create('nowhere', { name: 'x' }), await gw.fetch('/v1/collections/nowhere/identities')]) {
        expect(res.status).toBe(404);
        expect(res.body.error.code).toBe('COLLECTION_NOT_FOUND');
      }
    });

    it('pages through every identity once, including ones the people routes wrote', async () => {
      const made = new Set<string>();
      for (let i = 0; i < 7; i++) made.add((await create('paging', { name: `P${i}` })).body.id);
      // Naming a person writes the record alone (people/identity-records.ts); the listing indexes it.
      const named = 'i' + 'ab'.repeat(12);
      await gw.redis.hset(identitiesKey(gw.prefix, 'paging'), named, JSON.stringify({ id: named, name: 'Named', createdAt: new Date().toISOString() }));
      made.add(named);

      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const res = await gw.fetch(`/v1/collections/paging/identities?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.status).toBe(200);
        expect(res.body.items.length).toBeLessThanOrEqual(3);
        seen.push(...res.body.items.map((i: Json) => i.id));
        cursor = res.body.next;
        pages++;
      } while (cursor);
      expect(pages).toBe(3);
      expect(seen).toEqual([...made].sort());
      expect((await gw.fetch('/v1/collections/paging/identities?cursor=..%2Fx')).body.error.code).toBe('INVALID_CURSOR');
      expect((await gw.fetch('/v1/collections/paging/identities?limit=0')).status).toBe(400);
    });
  });

  describe('recluster request body', () => {
    const recluster = (init: { headers?: Record<string, string>; body?: string }) =>
      gw.fetch('/v1/collections/people/recluster', { method: 'POST', ...init });

    it('takes no body, or a JSON object', async () => {
      // No matcher runs here: the first one stays queued, and the same request again is that job.
      const first = await recluster({});
      expect(first.status).toBe(202);
      const again = await recluster({ headers: { 'content-type': 'application/json' }, body: '{"minFaces":2}' });
      expect([again.status, again.body.jobId]).toEqual([202, first.body.jobId]);
    });

    it('starts one job of many asked for at once: the same settings get its id, others 409', async () => {
      expect((await gw.fetch('/v1/collections', { method: 'POST', json: { name: 'busy' } })).status).toBe(201);
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) => gw.fetch('/v1/collections/busy/recluster', { method: 'POST', json: { eps: i % 2 ? 0.6 : 0.3 } })),
      );
      const started = answers.filter((r) => r.status === 202);
      expect(new Set(started.map((r) => r.body.jobId)).size).toBe(1);
      expect(started.length).toBe(4); // the settings of the first to start, asked four times
      expect(answers.filter((r) => r.status === 409).map((r) => r.body.error.code)).toEqual(Array(4).fill('RECLUSTER_IN_PROGRESS'));
    });

    it.each([
      ['a text/plain body', { 'content-type': 'text/plain' }, '{"minFaces":0}', 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['a form-urlencoded body', { 'content-type': 'application/x-www-form-urlencoded' }, 'minFaces=0', 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['a JSON array', { 'content-type': 'application/json' }, '[]', 400, 'VALIDATION_FAILED'],
      ['a JSON string', { 'content-type': 'application/json' }, '"x"', 400, 'INVALID_JSON'],
      ['minFaces 0', { 'content-type': 'application/json' }, '{"minFaces":0}', 400, 'VALIDATION_FAILED'],
    ])('refuses %s', async (_label, headers, body, status, code) => {
      const res = await recluster({ headers, body });
      expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
    });
  });

  describe('collection threshold', () => {
    it('defaults to the model threshold; PATCH sets it, null resets it', async () => {
      expect((await gw.fetch('/v1/collections/people')).body.threshold).toBe(DEFAULT_MATCH_THRESHOLD);
      const set = await gw.fetch('/v1/collections/people', { method: 'PATCH', json: { threshold: 0.5 } });
      expect(set).toMatchObject({ status: 200, body: { name: 'people', photos: 0, faces: 0, people: 0, threshold: 0.5 } });
      expect((await gw.fetch('/v1/collections/people')).body.threshold).toBe(0.5);
      // The registry record keeps its creation time (the thumbnails' generation) beside the threshold.
      expect(JSON.parse((await gw.redis.hget(`${gw.prefix}:collections`, 'people'))!)).toEqual({ createdAt: expect.any(String), threshold: 0.5 });
      expect((await gw.fetch('/v1/collections/people', { method: 'PATCH', json: { threshold: null } })).body.threshold).toBe(DEFAULT_MATCH_THRESHOLD);
      for (const json of [{ threshold: 1.5 }, { threshold: '0.5' }, {}, { threshold: 0.5, name: 'x' }]) {
        expect((await gw.fetch('/v1/collections/people', { method: 'PATCH', json })).status).toBe(400);
      }
      expect((await gw.fetch('/v1/collections/nowhere', { method: 'PATCH', json: { threshold: 0.5 } })).status).toBe(404);
    });
  });

  describe('synchronous calls', () => {
    /** Plays the detector for one job: hands it to `answer`, which replies as a worker would. */
    async function answerNext(answer: (job: Job<SyncDetectJob>) => Promise<void>): Promise<SyncDetectJob> {
      const connection = gw.redis.duplicate();
      const worker = new Worker<SyncDetectJob>('detect', null, { connection, prefix: gw.prefix, autorun: false });
      try {
        let job: Job<SyncDetectJob> | undefined;
        await waitFor('a detect job', () => worker.getNextJob('t').then((j) => ((job = j as Job<SyncDetectJob> | undefined), !!job)), 5_000);
        await answer(job!);
        await job!.moveToCompleted('answered', 't', false);
        return job!.data;
      } finally {
        await worker.close(true);
        connection.disconnect();
      }
    }

    it('enqueues a search ahead of ingest with the resolved threshold, relays the answer and deletes the upload', async () => {
      await gw.fetch('/v1/collections/sync', { method: 'PATCH', json: { threshold: 0.61 } });
      const result = { faces: [], threshold: 0.61 };
      const [res, data] = await Promise.all([
        gw.fetch('/v1/collections/sync/search', { method: 'POST', body: upload({ photo, k: '3' }) }),
        answerNext(async (job) => {
          expect(job.opts.priority).toBe(PRIORITY.sync);
          expect(job.opts.attempts).toBe(2);
          expect(job.opts.removeOnComplete).toBe(true);
          // The detector can read it while the call runs; a private blob, but it knows the content.
          const source = job.data.source as { kind: string; blobId: string; sha256?: string };
          expect(source.kind).toBe('blob');
          expect(existsSync(blobPath(gw, source.blobId))).toBe(true);
          expect(source.sha256).toBe(createHash('sha256').update(photo).digest('hex'));
          expect(source.blobId).not.toBe(source.sha256);
          await sendReply(gw.redis, gw.prefix, job.data.request.id, { ok: true, result });
        }),
      ]);
      expect(res).toMatchObject({ status: 200, body: result });
      expect(data).toMatchObject({ collection: 'sync', source: { kind: 'blob' }, request: { op: 'search', k: 3, threshold: 0.61, exact: false } });
      expect(data.jobId).toBe(data.request.id);
      await waitFor('the upload to be deleted', () => !existsSync(blobPath(gw, (data.source as { blobId: string }).blobId)));
    });

    it("passes a worker's error on with its status and code", async () => {
      const [res, data] = await Promise.all([
        gw.fetch('/v1/verify', { method: 'POST', body: upload({ a: photo, b: photo, threshold: '0.4' }) }),
        answerNext((job) => sendReply(gw.redis, gw.prefix, job.data.request.id, errorReply(new RequestError(422, 'NO_FACE', 'No face found in photo b')))),
      ]);
      expect(res).toMatchObject({ status: 422, body: { error: { code: 'NO_FACE', message: 'No face found in photo b' } } });
      expect(data.request).toMatchObject({ op: 'verify', threshold: 0.4, b: { kind: 'blob' } });
    });

    it('answers 504 REQUEST_TIMEOUT when no worker answers in FACEPIPE_SYNC_TIMEOUT_MS, and keeps no photo', async () => {
      const started = Date.now();
      const res = await gw.fetch('/v1/detect', { method: 'POST', body: upload({ photo }) });
      expect(res.status).toBe(504);
      expect(res.body.error.code).toBe('REQUEST_TIMEOUT');
      expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
      await waitFor('the upload to be deleted', () => storedBlobs(gw).length === 0);
      await gw.detectQueue.drain(true);
    });

    it('refuses bad requests before enqueueing anything', async () => {
      const cases: [string, RequestInit & { json?: unknown }, number, string][] = [
        ['/v1/detect', { method: 'POST', body: upload({ photos: photo }) }, 400, 'INVALID_MULTIPART'],
        ['/v1/detect', { method: 'POST', body: upload({ a: photo }) }, 400, 'INVALID_MULTIPART'],
        ['/v1/detect', { method: 'POST', body: upload({ photo, note: 'x' }) }, 400, 'VALIDATION_FAILED'],
        // A photo part without a file name is a text field: under and over multer's 8 KiB field limit.
        ['/v1/detect', { method: 'POST', body: upload({ photo: 'not a file' }) }, 400, 'INVALID_MULTIPART'],
        ['/v1/collections/sync/search', { method: 'POST', body: upload({ photo: 'x'.repeat(20_000) }) }, 400, 'INVALID_MULTIPART'],
        ['/v1/detect', { method: 'POST', json: { url: 'http://127.0.0.1/x.jpg' } }, 400, 'URL_NOT_ALLOWED'],
        ['/v1/detect', { method: 'POST', json: { path: '/etc/passwd' } }, 400, 'PATH_NOT_ALLOWED'],
        ['/v1/detect', { method: 'POST', json: { url: 'https://example.com/a.jpg', path: '/x' } }, 400, 'VALIDATION_FAILED'],
        ['/v1/detect', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
        ['/v1/verify', { method: 'POST', body: upload({ a: photo }) }, 400, 'VALIDATION_FAILED'],
        ['/v1/verify', { method: 'POST', json: { a: { url: 'https://example.com/a.jpg' } } }, 400, 'VALIDATION_FAILED'],
        ['/v1/collections/sync/search', { method: 'POST', body: upload({ photo, k: '0' }) }, 400, 'VALIDATION_FAILED'],
        ['/v1/collections/sync/search', { method: 'POST', body: upload({ photo, exact: 'yes' }) }, 400, 'VALIDATION_FAILED'],
        ['/v1/collections/sync/search', { method: 'POST', json: { url: 'https://example.com/a.jpg', k: 101 } }, 400, 'VALIDATION_FAILED'],
        ['/v1/collections/nowhere/search', { method: 'POST', body: upload({ photo }) }, 404, 'COLLECTION_NOT_FOUND'],
        ['/v1/collections/sync/identities/i000000000000000000000000/faces', { method: 'POST', body: upload({ photo }) }, 404, 'IDENTITY_NOT_FOUND'],
      ];
      for (const [route, init, status, code] of cases) {
        const res = await gw.fetch(route, init);
        expect({ route, status: res.status, code: res.body?.error?.code }).toEqual({ route, status, code });
      }
      expect(await gw.detectQueue.count()).toBe(0);
      await waitFor('uploads of refused calls to be deleted', () => storedBlobs(gw).length === 0);
    });
  });
});
