import { MAX_ITEMS_PER_REQUEST, PRIORITY, QUEUES, photoJobId, type DetectJob } from '@facepipe/contracts';
import { BlobStore, settlePhoto, webhookEventId } from '@facepipe/pipeline';
import { type Job, Worker } from 'bullmq';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEMO_DIR, type TestGateway, startTestGateway } from '../testing/test-gateway';
import { InterruptedSubmissionSweep, STRANDED_AFTER_MS } from './interrupted-submission-sweep';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('photo submission and batch jobs', () => {
  let gw: TestGateway;
  let root: string;

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'facepipe-gw-root-'));
    gw = await startTestGateway({ FACEPIPE_PATH_ROOTS: root, FACEPIPE_MAX_PHOTO_BYTES: String(1024 * 1024) });
    for (const name of ['photos', 'paths', 'open', 'again', 'limits', 'urls']) {
      expect((await gw.fetch('/v1/collections', { method: 'POST', json: { name } })).status).toBe(201);
    }
  });

  afterAll(async () => {
    await gw.close();
    rmSync(root, { recursive: true, force: true });
  });

  async function detectJob(collection: string, key: string): Promise<Job<DetectJob> | undefined> {
    return (await gw.detectQueue.getJob(photoJobId(collection, key))) as Job<DetectJob> | undefined;
  }

  async function detectJobCount(): Promise<number> {
    const c = await gw.detectQueue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed');
    return Object.values(c).reduce((a, b) => a + b, 0);
  }

  describe('multipart', () => {
    it('stores each file as a blob and enqueues one detect job per photo', async () => {
      const files = ['sample1.jpg', 'sample2.jpg'].map((name) => ({ name, bytes: readFileSync(path.join(DEMO_DIR, name)) }));
      const form = new FormData();
      for (const f of files) form.append('photos', new Blob([f.bytes], { type: 'image/jpeg' }), f.name);
      const res = await gw.fetch('/v1/collections/photos/photos', { method: 'POST', body: form });
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ jobId: expect.stringMatching(/^j[0-9a-f]{24}$/) });
      const { jobId } = res.body;

      const blobs = new BlobStore(path.join(gw.dataDir, 'blobs'));
      for (const f of files) {
        const blobId = sha256(f.bytes);
        expect(await blobs.has(blobId)).toBe(true);
        expect((await blobs.read(blobId)).equals(f.bytes)).toBe(true);
        const job = await detectJob('photos', f.name);
        expect(job).toBeDefined();
        expect(job!.id).toBe(photoJobId('photos', f.name));
        expect(job!.data).toEqual({ jobId, collection: 'photos', key: f.name, source: { kind: 'blob', blobId } });
        expect(job!.opts.priority).toBe(PRIORITY.bulk);
        expect(job!.opts.attempts).toBe(5);
      }

      const view = await gw.fetch(`/v1/jobs/${jobId}`);
      expect(view.status).toBe(200);
      expect(view.body).toMatchObject({ id: jobId, collection: 'photos', state: 'queued', sealed: true, total: 2, done: 0, failed: 0, faces: 0 });
      expect(view.body.webhook).toBeUndefined();
    });

    it('takes a webhook in text fields and never shows its secret', async () => {
      const form = new FormData();
      form.append('photos', new Blob([readFileSync(path.join(DEMO_DIR, 'sample3.jpg'))]), 'sample3.jpg');
      form.append('webhookUrl', 'https://hooks.example.com/facepipe');
      form.append('webhookSecret', 's3cret');
      const res = await gw.fetch('/v1/collections/photos/photos', { method: 'POST', body: form });
      expect(res.status).toBe(202);
      const view = await gw.fetch(`/v1/jobs/${res.body.jobId}`);
      expect(view.body.webhook).toEqual({ url: 'https://hooks.example.com/facepipe', deliveries: [] });
      expect(view.text).not.toContain('s3cret');
      expect(await gw.jobStore.webhookOf(res.body.jobId)).toEqual({ url: 'https://hooks.example.com/facepipe', secret: 's3cret' });
    });

    it('shows a webhook URL with credentials with its password masked, and delivers to the real one', async () => {
      const url = 'https://hook:pa55word@hooks.example.com/facepipe';
      const res = await gw.fetch('/v1/collections/paths/photos', { method: 'POST', json: { items: [{ path: `${root}/cred.jpg` }], webhook: { url } } });
      expect(res.status).toBe(202);
      const view = await gw.fetch(`/v1/jobs/${res.body.jobId}`);
      expect(view.body.webhook.url).toBe('https://hook:***@hooks.example.com/facepipe');
      expect(view.text).not.toContain('pa55word');
      expect((await gw.jobStore.webhookOf(res.body.jobId))?.url).toBe(url);
    });

    it('refuses a photo over FACEPIPE_MAX_PHOTO_BYTES with 413 PHOTO_TOO_LARGE', async () => {
      const form = new FormData();
      form.append('photos', new Blob([Buffer.alloc(1024 * 1024 + 10, 7)]), 'big.jpg');
      const res = await gw.fetch('/v1/collections/photos/photos', { method: 'POST', body: form });
      expect(res.status).toBe(413);
      expect(res.body.error.code).toBe('PHOTO_TOO_LARGE');
      expect(await detectJob('photos', 'big.jpg')).toBeUndefined();
    });

    it('refuses no files, duplicate names, files in another field, and a private webhook', async () => {
      const none = new FormData();
      none.append('webhookUrl', 'https://hooks.example.com/x');
      expect((await gw.fetch('/v1/collections/photos/photos', { method: 'POST', body: none })).body.error.field).toBe('photos');

      const dup = new FormData();
      dup.append('photos', new Blob([Buffer.from('a')]), 'same.jpg');
      dup.append('photos', new Blob([Buffer.from('b')]), 'same.jpg');
      const d = await gw.fetch('/v1/collections/photos/photos', { method: 'POST', body: dup });
      expect(d.status).toBe(400);
      expect(d.body.error.code).toBe('DUPLICATE_KEY');

      const other = new FormData();
      other.append('image', new Blob([Buffer.from('a')]), 'x.jpg');
      const o = await gw.fetch('/v1/collections/photos/photos', { method: 'POST', body: other });
      expect(o.status).toBe(400);
      expect(o.body.error.code).toBe('INVALID_MULTIPART');

      const hook = new FormData();
      hook.append('photos', new Blob([Buffer.from('a')]), 'h.jpg');
      hook.append('webhookUrl', 'http://169.254.169.254/latest');
      const h = await gw.fetch('/v1/collections/photos/photos', { method: 'POST', body: hook });
      expect(h.status).toBe(400);
      expect(h.body.error.code).toBe('WEBHOOK_URL_NOT_ALLOWED');
    });

    it('answers 404 for an unknown collection before reading the upload', async () => {
      const form = new FormData();
      form.append('photos', new Blob([Buffer.from('x')]), 'x.jpg');
      const res = await gw.fetch('/v1/collections/missing/photos', { method: 'POST', body: form });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('COLLECTION_NOT_FOUND');
    });
  });

  describe('JSON', () => {
    it('accepts paths under FACEPIPE_PATH_ROOTS, keyed by their path', async () => {
      const res = await gw.fetch('/v1/collections/paths/photos', {
        method: 'POST',
        json: { items: [{ path: `${root}/a.jpg` }, { path: `${root}/sub/../b.jpg`, key: 'bee' }] },
      });
      expect(res.status).toBe(202);
      const a = await detectJob('paths', `${root}/a.jpg`);
      expect(a!.data).toEqual({ jobId: res.body.jobId, collection: 'paths', key: `${root}/a.jpg`, source: { kind: 'path', path: `${root}/a.jpg` } });
      expect((await detectJob('paths', 'bee'))!.data.source).toEqual({ kind: 'path', path: `${root}/b.jpg` });
    });

    it('refuses a path outside the roots with 400 PATH_NOT_ALLOWED and enqueues nothing', async () => {
      const before = await detectJobCount();
      for (const bad of ['/etc/passwd', `${root}/../escape.jpg`, `${root}`, 'relative/x.jpg', `${root}-sibling/x.jpg`]) {
        const res = await gw.fetch('/v1/collections/paths/photos', {
          method: 'POST',
          json: { items: [{ path: `${root}/ok.jpg` }, { path: bad }] },
        });
        expect(res.status).toBe(400);
        expect(res.body.error).toMatchObject({ code: 'PATH_NOT_ALLOWED', field: 'items.1.path' });
      }
      expect(await detectJobCount()).toBe(before);
      expect(await detectJob('paths', `${root}/ok.jpg`)).toBeUndefined();
    });

    it('accepts http(s) URLs and refuses other schemes and private literal addresses', async () => {
      const ok = await gw.fetch('/v1/collections/urls/photos', { method: 'POST', json: { items: [{ url: 'https://photos.example.com/1.jpg' }] } });
      expect(ok.status).toBe(202);
      expect((await detectJob('urls', 'https://photos.example.com/1.jpg'))!.data.source).toEqual({ kind: 'url', url: 'https://photos.example.com/1.jpg' });
      for (const url of ['file:///etc/passwd', 'ftp://example.com/x.jpg', 'http://127.0.0.1/x.jpg', 'http://[::1]/x.jpg', 'http://10.1.2.3/x.jpg', 'not a url']) {
        const res = await gw.fetch('/v1/collections/urls/photos', { method: 'POST', json: { items: [{ url }] } });
        expect(res.status).toBe(400);
        expect(res.body.error).toMatchObject({ code: 'URL_NOT_ALLOWED', field: 'items.0.url' });
      }
    });

    it("keys a URL item without a key by the URL minus its user name and password, and names the url field when that key is refused", async () => {
      const url = 'https://alice:S3cretPw@photos.example.com/2.jpg?size=large';
      const res = await gw.fetch('/v1/collections/urls/photos', { method: 'POST', json: { items: [{ url }] } });
      expect(res.status).toBe(202);
      const job = await detectJob('urls', 'https://photos.example.com/2.jpg?size=large');
      expect(job!.data).toMatchObject({ key: 'https://photos.example.com/2.jpg?size=large', source: { kind: 'url', url } }); // fetched with them
      expect(JSON.stringify((await gw.fetch(`/v1/jobs/${res.body.jobId}/results`)).body)).not.toContain('S3cretPw');
      // A URL without credentials keys as written, as before (a re-submission keeps its key).
      const plain = 'https://Photos.Example.com/a%7e.jpg';
      expect((await gw.fetch('/v1/collections/urls/photos', { method: 'POST', json: { items: [{ url: plain }] } })).status).toBe(202);
      expect(await detectJob('urls', plain)).toBeDefined();
      const long = await gw.fetch('/v1/collections/urls/photos', { method: 'POST', json: { items: [{ url: `https://photos.example.com/${'p'.repeat(600)}.jpg` }] } });
      expect(long.body.error).toMatchObject({ code: 'INVALID_PHOTO_KEY', field: 'items.0.url', message: expect.stringContaining('give one') });
    });

    it('validates items: one of url/path, keys, duplicates, webhook URL', async () => {
      const post = (json: unknown) => gw.fetch('/v1/collections/urls/photos', { method: 'POST', json });
      const both = await post({ items: [{ url: 'https://e.com/a.jpg', path: `${root}/a.jpg` }] });
      expect(both.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'items.0' });
      expect((await post({ items: [] })).body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'items' });
      expect((await post({ items: [{ url: 'https://e.com/a.jpg', key: 'tab\there' }] })).body.error).toMatchObject({ code: 'INVALID_PHOTO_KEY', field: 'items.0.key' });
      expect((await post({ items: [{ url: 'https://e.com/a.jpg', key: 'k' }, { url: 'https://e.com/b.jpg', key: 'k' }] })).body.error).toMatchObject({
        code: 'DUPLICATE_KEY',
        field: 'items.1.key',
      });
      expect((await post({ items: [{ url: 'https://e.com/a.jpg' }, { url: 'https://e.com/a.jpg' }] })).body.error.code).toBe('DUPLICATE_KEY');
      for (const url of ['http://localhost:8080/hook', 'http://192.168.1.1/hook', 'ftp://example.com/hook']) {
        const res = await post({ items: [{ url: 'https://e.com/a.jpg' }], webhook: { url } });
        expect(res.status).toBe(400);
        expect(res.body.error).toMatchObject({ code: 'WEBHOOK_URL_NOT_ALLOWED', field: 'webhook.url' });
      }
    });

    it(`accepts ${MAX_ITEMS_PER_REQUEST} items and refuses ${MAX_ITEMS_PER_REQUEST + 1} with 400 TOO_MANY_ITEMS`, async () => {
      const items = (n: number) => Array.from({ length: n }, (_, i) => ({ path: `${root}/bulk/${i}.jpg` }));
      const tooMany = await gw.fetch('/v1/collections/limits/photos', { method: 'POST', json: { items: items(MAX_ITEMS_PER_REQUEST + 1) } });
      expect(tooMany.status).toBe(400);
      expect(tooMany.body.error.code).toBe('TOO_MANY_ITEMS');

      const started = Date.now();
      const ok = await gw.fetch('/v1/collections/limits/photos', { method: 'POST', json: { items: items(MAX_ITEMS_PER_REQUEST) } });
      expect(ok.status).toBe(202);
      const view = await gw.fetch(`/v1/jobs/${ok.body.jobId}`);
      expect(view.body).toMatchObject({ total: MAX_ITEMS_PER_REQUEST, sealed: true, state: 'queued' });
      expect(await gw.detectQueue.getPrioritizedCount()).toBeGreaterThanOrEqual(MAX_ITEMS_PER_REQUEST);
      expect(Date.now() - started).toBeLessThan(20_000);
    }, 60_000);

    it('answers malformed JSON with 400 INVALID_JSON and other content types with 415', async () => {
      const bad = await gw.fetch('/v1/collections/paths/photos', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"items": [' });
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('INVALID_JSON');
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'image/jpeg']) {
        const res = await gw.fetch('/v1/collections/paths/photos', { method: 'POST', headers: { 'content-type': type }, body: 'items=1' });
        expect(res.status).toBe(415);
        expect(res.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      }
      const none = await gw.fetch('/v1/collections/paths/photos', { method: 'POST' });
      expect(none.status).toBe(415);
    });
  });

  describe('open jobs', () => {
    it('adds photos to an unsealed job over several requests, then seals it', async () => {
      const first = await gw.fetch('/v1/collections/open/photos', { method: 'POST', json: { items: [{ path: `${root}/o/1.jpg` }], seal: false } });
      expect(first.status).toBe(202);
      const { jobId } = first.body;
      expect((await gw.fetch(`/v1/jobs/${jobId}`)).body).toMatchObject({ sealed: false, total: 1 });

      const form = new FormData();
      form.append('photos', new Blob([readFileSync(path.join(DEMO_DIR, 'sample4.jpg'))]), 'sample4.jpg');
      expect((await gw.fetch(`/v1/jobs/${jobId}/photos`, { method: 'POST', body: form })).status).toBe(202);
      const added = await gw.fetch(`/v1/jobs/${jobId}/photos`, { method: 'POST', json: { items: [{ path: `${root}/o/2.jpg` }, { path: `${root}/o/3.jpg` }] } });
      expect(added).toMatchObject({ status: 202, body: { jobId } });
      expect((await gw.fetch(`/v1/jobs/${jobId}`)).body).toMatchObject({ sealed: false, total: 4, state: 'queued' });
      expect((await detectJob('open', 'sample4.jpg'))!.data.jobId).toBe(jobId);
      expect((await detectJob('open', `${root}/o/3.jpg`))!.data.jobId).toBe(jobId);

      // no webhook on the add route
      const hook = await gw.fetch(`/v1/jobs/${jobId}/photos`, { method: 'POST', json: { items: [{ path: `${root}/o/4.jpg` }], webhook: { url: 'https://e.com' } } });
      expect(hook.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'webhook' });

      const sealed = await gw.fetch(`/v1/jobs/${jobId}/seal`, { method: 'POST' });
      expect(sealed.status).toBe(200);
      expect(sealed.body).toMatchObject({ id: jobId, sealed: true, total: 4, state: 'queued' });
      expect((await gw.fetch(`/v1/jobs/${jobId}/seal`, { method: 'POST' })).status).toBe(200); // idempotent

      const late = await gw.fetch(`/v1/jobs/${jobId}/photos`, { method: 'POST', json: { items: [{ path: `${root}/o/5.jpg` }] } });
      expect(late.status).toBe(409);
      expect(late.body.error.code).toBe('JOB_SEALED');
    });

    it('takes a key once per job: adding it again changes nothing, even after it settled', async () => {
      const { jobId } = (await gw.fetch('/v1/collections/open/photos', { method: 'POST', json: { items: [{ key: 'once', path: `${root}/o/once.jpg` }], seal: false } })).body;
      const queued = await detectJob('open', 'once');
      await gw.jobStore.settlePhoto(jobId, { key: 'once', status: 'done', faces: [] }); // as the matcher would
      const again = await gw.fetch(`/v1/jobs/${jobId}/photos`, { method: 'POST', json: { items: [{ key: 'once', path: `${root}/o/other.jpg` }] } });
      expect(again.status).toBe(202);
      const after = await detectJob('open', 'once');
      expect([after!.timestamp, after!.data.source]).toEqual([queued!.timestamp, queued!.data.source]); // not re-run, not replaced
      // Sealing completes the job on its one result: nothing of it is still running.
      expect((await gw.fetch(`/v1/jobs/${jobId}/seal`, { method: 'POST' })).body).toMatchObject({ state: 'completed', total: 1, done: 1 });
    });

    it('settles the photos of an add its gateway never queued as SUBMISSION_INTERRUPTED, so the job completes', async () => {
      const { jobId } = (await gw.fetch('/v1/collections/open/photos', { method: 'POST', json: { items: [{ key: 'ok', path: `${root}/o/ok.jpg` }], seal: false } })).body;
      // A gateway died after counting these photos: one it had queued, two it had not.
      await gw.jobStore.addPhotos(jobId, ['queued', 'lost-1', 'lost-2']);
      await gw.detectQueue.add('detect', { jobId, collection: 'open', key: 'queued', source: { kind: 'path', path: `${root}/o/q.jpg` } }, { jobId: photoJobId('open', 'queued') });
      expect((await gw.fetch(`/v1/jobs/${jobId}/seal`, { method: 'POST' })).body).toMatchObject({ state: 'queued', total: 4 });
      const sweep = gw.app.get(InterruptedSubmissionSweep);
      expect(await sweep.sweep(Date.now() - STRANDED_AFTER_MS)).toEqual({ photos: 0, jobs: 0 }); // too recent: that gateway may still be queueing
      expect(await sweep.sweep(Date.now() + 1)).toEqual({ photos: 2, jobs: 0 }); // the job's id was answered: it stays open
      const results = (await gw.fetch(`/v1/jobs/${jobId}/results`)).body.items;
      expect(results.map((r: { key: string; error?: { code: string } }) => [r.key, r.error?.code])).toEqual([
        ['lost-1', 'SUBMISSION_INTERRUPTED'],
        ['lost-2', 'SUBMISSION_INTERRUPTED'],
      ]);
      expect(await sweep.sweep(Date.now() + 1)).toEqual({ photos: 0, jobs: 0 }); // once
      // The queued photos settle as their workers finish them; then the job completes.
      for (const key of ['ok', 'queued']) await gw.jobStore.settlePhoto(jobId, { key, status: 'done', faces: [] });
      expect((await gw.fetch(`/v1/jobs/${jobId}`)).body).toMatchObject({ state: 'completed', total: 4, done: 2, failed: 2 });
    });

    it('seals a job whose creating request never answered, so it completes (and its webhook fires)', async () => {
      // A gateway died after creating a job and counting its photos, before answering with its id:
      // one photo it had queued, one it had not.
      const hook = 'https://hooks.example.com/interrupted';
      const orphan = await gw.jobStore.create({ collection: 'open', sealed: false, webhook: { url: hook } });
      await gw.jobStore.addPhotos(orphan.id, ['orphan-queued', 'lost']);
      await gw.detectQueue.add('detect', { jobId: orphan.id, collection: 'open', key: 'orphan-queued', source: { kind: 'path', path: `${root}/o/q.jpg` } }, { jobId: photoJobId('open', 'orphan-queued') });
      // A job created through the API was answered: it stays open for its client to seal.
      const { jobId: answered } = (await gw.fetch('/v1/collections/open/photos', { method: 'POST', json: { items: [{ key: 'kept-open', path: `${root}/o/k.jpg` }], seal: false } })).body;

      const sweep = gw.app.get(InterruptedSubmissionSweep);
      expect(await sweep.sweep(Date.now() - STRANDED_AFTER_MS)).toEqual({ photos: 0, jobs: 0 }); // too recent
      expect(await sweep.sweep(Date.now() + 1)).toEqual({ photos: 1, jobs: 1 });
      expect((await gw.fetch(`/v1/jobs/${orphan.id}`)).body).toMatchObject({ sealed: true, state: 'running', total: 2, failed: 1 });
      expect((await gw.fetch(`/v1/jobs/${answered}`)).body).toMatchObject({ sealed: false });
      expect(await sweep.sweep(Date.now() + 1)).toEqual({ photos: 0, jobs: 0 }); // once

      // Its queued photo settles as the matcher would: the job completes and its webhook is enqueued.
      await settlePhoto(gw.queues, gw.jobStore, orphan.id, { key: 'orphan-queued', status: 'done', faces: [] });
      expect((await gw.fetch(`/v1/jobs/${orphan.id}`)).body).toMatchObject({ state: 'completed', done: 1, failed: 1 });
      expect(await gw.queues.get(QUEUES.notify).getJob(webhookEventId(orphan.id))).toBeDefined();
    });

    it('answers 404 JOB_NOT_FOUND for unknown jobs on every job route', async () => {
      for (const [method, p] of [
        ['GET', '/v1/jobs/j000000000000000000000000'],
        ['GET', '/v1/jobs/nonsense/results'],
        ['POST', '/v1/jobs/j000000000000000000000000/seal'],
      ] as const) {
        const res = await gw.fetch(p, { method });
        expect(res.status).toBe(404);
        expect(res.body.error.code).toBe('JOB_NOT_FOUND');
      }
      const add = await gw.fetch('/v1/jobs/j000000000000000000000000/photos', { method: 'POST', json: { items: [{ path: `${root}/x.jpg` }] } });
      expect(add.status).toBe(404);
    });

    it('pages results in key order with a cursor', async () => {
      const keys = ['r1', 'r2', 'r3'];
      const res = await gw.fetch('/v1/collections/open/photos', { method: 'POST', json: { items: keys.map((key) => ({ key, path: `${root}/r/${key}.jpg` })) } });
      const { jobId } = res.body;
      for (const key of keys) await gw.jobStore.settlePhoto(jobId, { key, status: 'done', faces: [] });
      const page1 = await gw.fetch(`/v1/jobs/${jobId}/results?limit=2`);
      expect(page1.status).toBe(200);
      expect(page1.body.items.map((r: { key: string }) => r.key)).toEqual(['r1', 'r2']);
      expect(page1.body.next).toEqual(expect.any(String));
      const page2 = await gw.fetch(`/v1/jobs/${jobId}/results?limit=2&cursor=${encodeURIComponent(page1.body.next)}`);
      expect(page2.body).toEqual({ items: [{ key: 'r3', status: 'done', faces: [] }] });
      expect((await gw.fetch(`/v1/jobs/${jobId}`)).body).toMatchObject({ state: 'completed', done: 3, finishedAt: expect.any(String) });
      for (const q of ['limit=0', 'limit=1001', 'limit=abc']) {
        const bad = await gw.fetch(`/v1/jobs/${jobId}/results?${q}`);
        expect(bad.status).toBe(400);
        expect(bad.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'limit' });
      }
      // A misspelt parameter is named, not ignored (as on every listing).
      expect((await gw.fetch(`/v1/jobs/${jobId}/results?limt=2`)).body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'limt' });
      expect((await gw.fetch(`/v1/jobs/${jobId}/results?cursor=zzz`)).body.error.code).toBe('INVALID_CURSOR');
    });
  });

  describe('re-submitting a photo', () => {
    const submit = (key: string, p = `${root}/again/${key}.jpg`) =>
      gw.fetch('/v1/collections/again/photos', { method: 'POST', json: { items: [{ key, path: p }] } });

    async function countFor(key: string): Promise<number> {
      const jobs = await gw.detectQueue.getJobs(['waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed']);
      return jobs.filter((j) => j?.data?.key === key && j.data.collection === 'again').length;
    }

    it('replaces a waiting detect job instead of adding a second one; the earlier job settles it as superseded', async () => {
      const first = (await submit('same')).body.jobId;
      const second = (await submit('same')).body.jobId;
      expect(second).not.toBe(first);
      expect(await countFor('same')).toBe(1);
      const job = await detectJob('again', 'same');
      expect(job!.data.jobId).toBe(second);
      const earlier = await gw.fetch(`/v1/jobs/${first}`);
      expect(earlier.body).toMatchObject({ state: 'failed', failed: 1 });
      expect((await gw.fetch(`/v1/jobs/${first}/results`)).body.items[0].error.code).toBe('PHOTO_SUPERSEDED');
      expect((await gw.fetch(`/v1/jobs/${second}`)).body).toMatchObject({ state: 'queued', total: 1 });
    });

    it('keeps a waiting job of the same batch as it is', async () => {
      const { jobId } = (await gw.fetch('/v1/collections/again/photos', { method: 'POST', json: { items: [{ key: 'keep', path: `${root}/k.jpg` }], seal: false } })).body;
      const before = await detectJob('again', 'keep');
      await gw.fetch(`/v1/jobs/${jobId}/photos`, { method: 'POST', json: { items: [{ key: 'keep', path: `${root}/k.jpg` }] } });
      const after = await detectJob('again', 'keep');
      expect(after!.timestamp).toBe(before!.timestamp);
      expect(await countFor('keep')).toBe(1);
      expect((await gw.fetch(`/v1/jobs/${jobId}`)).body.total).toBe(1);
    });

    it('removes a finished detect job so that the new one runs, and settles a photo in flight elsewhere as PHOTO_IN_PROGRESS', async () => {
      // A gateway of its own, so that its detect queue holds only this test's photos.
      const own = await startTestGateway({ FACEPIPE_PATH_ROOTS: root });
      // Stand in for a detector: take jobs by hand (no processor runs).
      const worker = new Worker('detect', null, { connection: own.redis, prefix: own.prefix, autorun: false });
      const post = (key: string) => own.fetch('/v1/collections/again/photos', { method: 'POST', json: { items: [{ key, path: `${root}/again/${key}.jpg` }] } });
      try {
        await own.fetch('/v1/collections', { method: 'POST', json: { name: 'again' } });
        await post('done-before');
        await post('busy');
        const token = 'test-token';
        const first = (await worker.getNextJob(token)) as Job<DetectJob>;
        const second = (await worker.getNextJob(token)) as Job<DetectJob>;
        expect([first.data.key, second.data.key].sort()).toEqual(['busy', 'done-before']);
        const finished = first.data.key === 'done-before' ? first : second;
        await finished.moveToCompleted({ faces: 0 }, token, false);
        expect(await own.detectQueue.getJobState(finished.id!)).toBe('completed');

        const rerun = (await post('done-before')).body.jobId;
        expect(await own.detectQueue.getJobState(photoJobId('again', 'done-before'))).toBe('prioritized');
        expect((await own.detectQueue.getJob(photoJobId('again', 'done-before')))!.data.jobId).toBe(rerun);
        expect(await own.detectQueue.getJobCountByTypes('completed')).toBe(0);

        // 'busy' is active (locked by our stand-in): it cannot be replaced.
        const blocked = (await post('busy')).body.jobId;
        expect(await own.detectQueue.getJobState(photoJobId('again', 'busy'))).toBe('active');
        expect((await own.fetch(`/v1/jobs/${blocked}`)).body).toMatchObject({ state: 'failed', failed: 1 });
        expect((await own.fetch(`/v1/jobs/${blocked}/results`)).body.items[0].error.code).toBe('PHOTO_IN_PROGRESS');
      } finally {
        await worker.close(true);
        await own.close();
      }
    });
  });
});
