/**
 * SIGKILL during a 1,000-photo ingest (issue 6). The service runs as separate processes; while
 * 1,000 photos (the six demo photos under distinct keys) go through, the detector, the embedder and
 * the matcher are each killed with SIGKILL once, at random moments (seeded; the seed is printed and
 * FACEPIPE_FAULT_SEED replays it), and a replacement is started. Then:
 *   - every photo ends `done` exactly once, with the faces of a clean run of its sample;
 *   - the index holds exactly the faces of a clean run: the collection's count, and the embedded
 *     index itself, reopened after the matcher stopped (no duplicate face id, no missing one);
 *   - the job completes with done = 1000, failed = 0, and no pipeline job was dead-lettered;
 *   - its webhook is accepted exactly once, signed, and every attempt (the receiver refuses the
 *     first one, to force a retry) carries the same event id.
 */
import path from 'node:path';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { EmbeddedFaceIndex } from '@facepipe/face-index';
import { allResults, api, sleep, startProcesses, waitFor, webhookReceiver, type AppName, type ServiceProcesses, type WebhookReceiver } from '@facepipe/testing';
import { seededRandom as seeded } from '@facepipe/contracts';

const DEMO = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
const sample = (i: number) => path.join(DEMO, `sample${i}.jpg`);
const SECRET = 'faults-ingest-secret';
const PHOTOS = Number(process.env.FACEPIPE_FAULT_PHOTOS || 1000);
const SEED = Number(process.env.FACEPIPE_FAULT_SEED || Date.now() % 1_000_000);

interface JobView { state: string; total: number; done: number; failed: number; faces: number }


let svc: ServiceProcesses;
let hook: WebhookReceiver;

beforeAll(async () => {
  svc = await startProcesses({ FACEPIPE_PATH_ROOTS: DEMO, FACEPIPE_ALLOW_PRIVATE_URLS: 'true', FACEPIPE_THREADS: '1', FACEPIPE_WEBHOOK_BACKOFF_MS: '500' });
  // The first delivery attempt is refused, so the event id is seen across a retry.
  hook = await webhookReceiver(SECRET, { answer: (n) => (n === 0 ? 503 : 200) });
}, 180_000);

afterAll(async () => {
  await hook?.close();
  await svc?.stop();
}, 60_000);

const jobView = (id: string) => api<JobView>(svc.base, 'GET', `/v1/jobs/${id}`).then((r) => r.json);

it(`ingests ${PHOTOS} photos exactly once while detector, embedder and matcher are SIGKILLed`, async () => {
  // The clean run: faces per demo photo.
  expect((await api(svc.base, 'POST', '/v1/collections', { name: 'clean' })).status).toBe(201);
  const clean = await api<{ jobId: string }>(svc.base, 'POST', '/v1/collections/clean/photos', {
    items: [1, 2, 3, 4, 5, 6].map((i) => ({ key: `sample${i}.jpg`, path: sample(i) })),
  });
  await waitFor('the clean run', 120_000, async () => (await jobView(clean.json.jobId)).state === 'completed');
  const cleanByKey = new Map((await allResults(svc.base, clean.json.jobId)).map((r) => [r.key, r.faces.length]));
  const faces = [1, 2, 3, 4, 5, 6].map((i) => cleanByKey.get(`sample${i}.jpg`)!);
  expect(faces.every((n) => n > 0)).toBe(true);

  // The faulty run.
  const random = seeded(SEED);
  const apps: AppName[] = ['detector-worker', 'embedder-worker', 'matcher-worker'];
  for (let i = apps.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [apps[i], apps[j]] = [apps[j], apps[i]];
  }
  // Kill points spread over the first two thirds of the run (later ones would only test the
  // stalled-job timeout), each plus a random delay so it lands anywhere inside a job.
  const plan = apps
    .map((app, i) => ({ app, atPhotos: Math.floor(PHOTOS * (0.08 + (i + random()) * 0.19)), delayMs: Math.floor(random() * 1500) }))
    .sort((a, b) => a.atPhotos - b.atPhotos);
  console.log(`faults-ingest: seed ${SEED} (FACEPIPE_FAULT_SEED=${SEED} replays it); plan: ${plan.map((p) => `${p.app} at ${p.atPhotos} photos +${p.delayMs} ms`).join(', ')}`);

  expect((await api(svc.base, 'POST', '/v1/collections', { name: 'faults' })).status).toBe(201);
  const items = Array.from({ length: PHOTOS }, (_, i) => ({ key: `photo-${String(i).padStart(4, '0')}.jpg`, path: sample((i % 6) + 1) }));
  const expectedFaces = items.reduce((sum, _, i) => sum + faces[i % 6], 0);
  const started = Date.now();
  const submitted = await api<{ jobId: string }>(svc.base, 'POST', '/v1/collections/faults/photos', { items, webhook: { url: hook.url, secret: SECRET } });
  expect(submitted.status).toBe(202);
  const jobId = submitted.json.jobId;

  const kills: { app: AppName; settled: number; pid?: number; seconds: number }[] = [];
  let view: JobView;
  for (;;) {
    view = await jobView(jobId);
    if (view.state === 'completed' || view.state === 'failed') break;
    const next = plan[kills.length];
    if (next && view.done + view.failed >= next.atPhotos) {
      await sleep(next.delayMs);
      const pid = svc.pid(next.app);
      const settled = (await jobView(jobId)).done;
      await svc.restart(next.app); // SIGKILL, then a replacement (models loaded, ready)
      kills.push({ app: next.app, settled, pid, seconds: Math.round((Date.now() - started) / 1000) });
      console.log(`faults-ingest: SIGKILLed ${next.app} (pid ${pid}) at ${settled}/${PHOTOS} photos done; replacement pid ${svc.pid(next.app)}`);
    }
    if (Date.now() - started > 900_000) throw new Error(`the ingest did not finish in 15 min: ${JSON.stringify(view)}`);
    await sleep(200);
  }
  const seconds = (Date.now() - started) / 1000;
  console.log(`faults-ingest: ${PHOTOS} photos, ${view.faces} faces in ${seconds.toFixed(0)} s (${(PHOTOS / seconds).toFixed(2)} photos/s) with ${kills.length} kills`);

  // All three kills happened while photos were still in flight.
  expect(kills.map((k) => k.app).sort()).toEqual(['detector-worker', 'embedder-worker', 'matcher-worker']);
  for (const k of kills) expect(k.settled).toBeLessThan(PHOTOS);

  // The job: complete, every photo done once, the faces of a clean run.
  expect(view).toMatchObject({ state: 'completed', total: PHOTOS, done: PHOTOS, failed: 0, faces: expectedFaces });
  const results = await allResults(svc.base, jobId);
  expect(results).toHaveLength(PHOTOS);
  expect(new Set(results.map((r) => r.key)).size).toBe(PHOTOS);
  expect(results.map((r) => r.key).sort()).toEqual(items.map((i) => i.key).sort());
  const wrong = results.filter((r) => r.status !== 'done' || r.faces.length !== faces[Number(r.key.slice(6, 10)) % 6]);
  expect(wrong).toEqual([]);
  const faceIds = results.flatMap((r) => r.faces.map((f) => f.faceId));
  expect(new Set(faceIds).size).toBe(expectedFaces);
  expect((await api(svc.base, 'GET', '/v1/collections/faults')).json).toMatchObject({ photos: PHOTOS, faces: expectedFaces });

  // No pipeline job was dead-lettered on the way (a stalled job is retried, not failed).
  const redis = new Redis(svc.redisUrl, { maxRetriesPerRequest: 2 });
  try {
    for (const name of ['detect', 'embed', 'match']) {
      const queue = new Queue(name, { connection: redis, prefix: svc.prefix });
      expect([name, await queue.getJobCounts('failed')]).toEqual([name, { failed: 0 }]);
      await queue.close();
    }
  } finally {
    redis.disconnect();
  }

  // The webhook: one accepted delivery, signed; the refused first attempt had the same event id.
  await waitFor('the accepted webhook', 60_000, async () => hook.deliveries.some((d) => d.status === 200));
  await sleep(3_000); // room for a duplicate to show up
  const ofJob = hook.deliveries.filter((d) => d.body.job.id === jobId);
  expect(ofJob.map((d) => d.status)).toEqual([503, 200]);
  expect(ofJob.every((d) => d.signatureOk && d.eventId === `evt_${jobId}`)).toBe(true);
  expect(ofJob[1].body).toMatchObject({ event: 'job.completed', job: { state: 'completed', done: PHOTOS, failed: 0, faces: expectedFaces } });

  // The embedded index itself, reopened once the matcher has stopped: exactly the result faces.
  await svc.kill('matcher-worker', 'SIGTERM');
  const index = await EmbeddedFaceIndex.open(path.join(svc.dataDir, 'index'), { threads: 1 });
  try {
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await index.scroll('faults', { limit: 1000, cursor });
      ids.push(...page.items.map((h) => h.id));
      cursor = page.next;
    } while (cursor);
    expect(ids).toHaveLength(expectedFaces);
    expect(new Set(ids).size).toBe(expectedFaces);
    expect(await index.count('faults')).toBe(expectedFaces);
    expect([...ids].sort()).toEqual([...faceIds].sort());
  } finally {
    await index.close();
  }
}, 1_200_000);
