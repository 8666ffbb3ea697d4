/**
 * End to end through the real processes (gateway + detector/embedder/matcher workers, started as
 * `npm start` starts them), real Redis, real models and photos: multipart and path ingest, the
 * signed webhook, per-photo results, failures, and re-submission without duplicate faces.
 */
import { createHmac } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { REDIS_URL, startService, waitFor, type RunningService } from '@facepipe/testing';

const DEMO = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
const SECRET = 'e2e-secret';

interface Delivery { eventId: string; body: { event: string; job: { id: string; state: string } }; signatureOk: boolean }

let service: RunningService;
let photosRoot: string;
let hook: { url: string; deliveries: Delivery[]; close(): void };

beforeAll(async () => {
  photosRoot = mkdtempSync(path.join(os.tmpdir(), 'facepipe-e2e-photos-'));
  service = await startService({ FACEPIPE_PATH_ROOTS: photosRoot, FACEPIPE_ALLOW_PRIVATE_URLS: 'true' });
  hook = await webhookReceiver();
});

afterAll(async () => {
  hook?.close();
  await service?.stop();
  rmSync(photosRoot, { recursive: true, force: true });
});

async function api<T = unknown>(method: string, route: string, body?: unknown): Promise<{ status: number; json: T }> {
  const init: RequestInit = { method };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) Object.assign(init, { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const res = await fetch(service.base + route, init);
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : undefined) as T };
}

async function results(jobId: string) {
  const items: { key: string; status: string; faces: { faceId: string; personId: string }[]; error?: { code: string } }[] = [];
  let cursor: string | undefined;
  do {
    const page = await api<{ items: typeof items; next?: string }>('GET', `/v1/jobs/${jobId}/results${cursor ? `?cursor=${cursor}` : ''}`);
    items.push(...page.json.items);
    cursor = page.json.next;
  } while (cursor);
  return new Map(items.map((i) => [i.key, i]));
}

const deliveryFor = (jobId: string) => waitFor(`the webhook of ${jobId}`, 180_000, async () => hook.deliveries.find((d) => d.body.job.id === jobId));

it('ingests by upload and by path, signs the webhook, and never indexes a photo twice', async () => {
  expect((await api('POST', '/v1/collections', { name: 'e2e' })).status).toBe(201);

  // 1. Multipart: two group photos and a text file pretending to be a JPEG.
  const form = new FormData();
  for (const name of ['sample1.jpg', 'sample2.jpg']) form.append('photos', new Blob([readFileSync(path.join(DEMO, name))]), name);
  form.append('photos', new Blob([Buffer.from('not a photo at all')]), 'broken.jpg');
  form.append('webhookUrl', hook.url);
  form.append('webhookSecret', SECRET);
  const a = await api<{ jobId: string }>('POST', '/v1/collections/e2e/photos', form);
  expect(a.status).toBe(202);

  const first = await deliveryFor(a.json.jobId);
  expect(first.signatureOk).toBe(true);
  expect(first.body.event).toBe('job.completed');
  const jobA = (await api<Record<string, unknown>>('GET', `/v1/jobs/${a.json.jobId}`)).json;
  expect(jobA).toMatchObject({ state: 'completed', total: 3, done: 2, failed: 1, faces: 6 });
  // Completed, so its record now expires after the default retention (FACEPIPE_JOB_RETENTION_DAYS).
  const redis = new Redis(REDIS_URL);
  // (The deliveries list is left out: the webhook's attempt may still be being recorded.)
  const ttls = await Promise.all(['', ':keys', ':results'].map((s) => redis.ttl(`${service.prefix}:job:${a.json.jobId}${s}`)));
  await redis.quit();
  for (const ttl of ttls) expect(ttl).toBeGreaterThan(7 * 86_400 - 600);
  for (const ttl of ttls) expect(ttl).toBeLessThanOrEqual(7 * 86_400);
  const ra = await results(a.json.jobId);
  expect(ra.get('sample1.jpg')?.faces).toHaveLength(3);
  expect(ra.get('sample2.jpg')?.faces).toHaveLength(3);
  expect(ra.get('broken.jpg')).toMatchObject({ status: 'failed', error: { code: 'UNSUPPORTED_IMAGE_FORMAT' } });
  expect((await api('GET', '/v1/collections/e2e')).json).toMatchObject({ photos: 2, faces: 6 });

  // 2. By path: sample1 again under the same key (a re-submission) and a new photo.
  mkdirSync(path.join(photosRoot, 'album'));
  copyFileSync(path.join(DEMO, 'sample1.jpg'), path.join(photosRoot, 'album/one.jpg'));
  copyFileSync(path.join(DEMO, 'sample3.jpg'), path.join(photosRoot, 'album/three.jpg'));
  writeFileSync(path.join(photosRoot, 'outside-note.txt'), 'x');
  const b = await api<{ jobId: string }>('POST', '/v1/collections/e2e/photos', {
    items: [
      { key: 'sample1.jpg', path: path.join(photosRoot, 'album/one.jpg') },
      { key: 'sample3.jpg', path: path.join(photosRoot, 'album/three.jpg') },
    ],
    webhook: { url: hook.url, secret: SECRET },
  });
  expect(b.status).toBe(202);
  await deliveryFor(b.json.jobId);
  const rb = await results(b.json.jobId);
  expect(rb.get('sample3.jpg')?.faces).toHaveLength(3);
  // Same photo, same key: the same face ids and people, and no extra faces in the index.
  const ids = (m: typeof ra, k: string) => m.get(k)!.faces.map((f) => f.faceId).sort();
  expect(ids(rb, 'sample1.jpg')).toEqual(ids(ra, 'sample1.jpg'));
  expect(rb.get('sample1.jpg')!.faces.map((f) => f.personId).sort()).toEqual(ra.get('sample1.jpg')!.faces.map((f) => f.personId).sort());
  expect((await api('GET', '/v1/collections/e2e')).json).toMatchObject({ photos: 3, faces: 9 });

  // 3. Each job's webhook fired exactly once, with a stable event id.
  await new Promise((r) => setTimeout(r, 1000));
  for (const id of [a.json.jobId, b.json.jobId]) expect(hook.deliveries.filter((d) => d.body.job.id === id)).toHaveLength(1);
});

it('refuses paths outside the allowed roots', async () => {
  const res = await api<{ error: { code: string } }>('POST', '/v1/collections/e2e/photos', { items: [{ key: 'x', path: '/etc/passwd' }] });
  expect(res.status).toBe(400);
  expect(res.json.error.code).toBe('PATH_NOT_ALLOWED');
});

function webhookReceiver(): Promise<{ url: string; deliveries: Delivery[]; close(): void }> {
  const deliveries: Delivery[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => { raw += d; });
    req.on('end', () => {
      const ts = String(req.headers['x-facepipe-timestamp']);
      const expected = 'sha256=' + createHmac('sha256', SECRET).update(`${ts}.${raw}`).digest('hex');
      deliveries.push({ eventId: String(req.headers['x-facepipe-event-id']), body: JSON.parse(raw), signatureOk: req.headers['x-facepipe-signature'] === expected });
      res.writeHead(200).end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`,
    deliveries,
    close: () => { server.closeAllConnections(); server.close(); },
  })));
}

// Last: it restarts a worker of the shared service.
it('npm start starts an app that dies again, as Kubernetes would, and the service goes on', async () => {
  const before = service.appPid!('detector-worker');
  expect(before).toBeDefined();
  process.kill(before!, 'SIGKILL');
  await waitFor('the detector to be started again', 60_000, async () => {
    const now = service.appPid!('detector-worker');
    return now !== undefined && now !== before && /detector-worker.*"msg":"started"/.test(service.log().split('starting it again')[1] ?? '');
  });
  expect(service.log()).toContain('facepipe: detector-worker exited (SIGKILL); starting it again in 1 s');
  const form = new FormData();
  form.append('photo', new Blob([readFileSync(path.join(DEMO, 'sample1.jpg'))]), 'sample1.jpg');
  const detected = await api<{ faces: unknown[] }>('POST', '/v1/detect', form);
  expect(detected.status).toBe(200);
  expect(detected.json.faces.length).toBeGreaterThan(0);
}, 90_000);
