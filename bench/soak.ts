/**
 * bench/soak — the service under sustained load (issue 6). The gateway and the three workers run
 * as separate processes; N clients (default 50) each submit a batch of demo photos by path, wait
 * for its job to complete (polling GET /v1/jobs/{id}), and submit the next, for `--minutes`.
 * When the route exists, `--search-clients` more clients (default 5) send synchronous searches
 * (POST /v1/collections/{c}/search, one demo photo each) back to back. Then the backlog is drained
 * and it checks:
 *   - nothing lost: every job completed with all its photos done, the faces of a clean run;
 *   - no duplicates: every key exactly once in its job's results, face ids unique, the
 *     collection's photo and face counts equal to the sums; each job's webhook accepted once;
 *   - memory: each process's RSS after the drain against its RSS after the warm-up (bound);
 * and prints throughput, p50/p95/p99 latencies and RSS. Exit status 1 if a check failed.
 *   npm run bench:soak -- [--minutes 10] [--clients 50] [--batch 4] [--threads 1] [--rss-growth-mib 256] [--search-clients 5]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { APPS, allResults, api, sleep, startProcesses, waitFor, webhookReceiver, type AppName } from '@facepipe/testing';

const DEMO = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
const sample = (i: number) => path.join(DEMO, `sample${i}.jpg`);
const SECRET = 'soak-secret';
const MiB = 1024 * 1024;

interface JobView { state: string; total: number; done: number; failed: number; faces: number }
interface Submitted { jobId: string; keys: string[]; expectedFaces: number; view?: JobView }

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(v < 100 ? 1 : 0)} ms` : '—');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      clients: { type: 'string', default: '50' },
      batch: { type: 'string', default: '4' },
      threads: { type: 'string', default: '1' },
      'rss-growth-mib': { type: 'string', default: '256' },
      'search-clients': { type: 'string', default: '5' },
    },
  });
  const minutes = Number(values.minutes), clients = Number(values.clients), batch = Number(values.batch);
  const rssBound = Number(values['rss-growth-mib']) * MiB, searchClients = Number(values['search-clients']);
  for (const [name, v] of Object.entries({ minutes, clients, batch })) {
    if (!(v > 0)) throw new Error(`--${name} must be a positive number`);
  }
  if (!(searchClients >= 0)) throw new Error('--search-clients must be a number ≥ 0');

  const svc = await startProcesses({ FACEPIPE_PATH_ROOTS: DEMO, FACEPIPE_ALLOW_PRIVATE_URLS: 'true', FACEPIPE_THREADS: values.threads! });
  const hook = await webhookReceiver(SECRET);
  const failures: string[] = [];
  const check = (ok: boolean, what: string) => {
    if (!ok) failures.push(what);
  };
  try {
    // Warm-up and the clean run: faces per demo photo.
    await api(svc.base, 'POST', '/v1/collections', { name: 'soak' });
    const clean = await api<{ jobId: string }>(svc.base, 'POST', '/v1/collections/soak/photos', {
      items: [1, 2, 3, 4, 5, 6].map((i) => ({ key: `clean-${i}.jpg`, path: sample(i) })),
    });
    await waitFor('the clean run', 300_000, async () => (await api<JobView>(svc.base, 'GET', `/v1/jobs/${clean.json.jobId}`)).json.state === 'completed');
    const cleanByKey = new Map((await allResults(svc.base, clean.json.jobId)).map((r) => [r.key, r.faces.length]));
    const faces = [1, 2, 3, 4, 5, 6].map((i) => cleanByKey.get(`clean-${i}.jpg`)!);
    await sleep(2_000);
    const rssBefore = new Map<AppName, number>(APPS.map((a) => [a, svc.rss(a) ?? NaN]));

    // Is there a synchronous search route yet? (404 from the router: no.)
    const searchProbe = await searchOnce(svc.base, 1);
    let searchEnabled = searchProbe.status !== 404 || !/Cannot POST/i.test(searchProbe.text);
    if (searchEnabled && (searchProbe.status < 200 || searchProbe.status >= 300)) {
      console.log(`search: POST /v1/collections/soak/search answered ${searchProbe.status} ${searchProbe.text.slice(0, 200)}; searches disabled`);
      searchEnabled = false;
    }

    const lat = { submit: [] as number[], status: [] as number[], job: [] as number[], search: [] as number[] };
    const jobs: Submitted[] = [];
    const errors: string[] = [];
    const started = Date.now();
    const deadline = started + minutes * 60_000;
    let lastReport = started;

    const client = async (c: number): Promise<void> => {
      for (let round = 0; Date.now() < deadline; round++) {
        const items = Array.from({ length: batch }, (_, j) => ({ key: `c${c}-r${round}-${j}.jpg`, path: sample(((c + round + j) % 6) + 1) }));
        const job: Submitted = { jobId: '', keys: items.map((i) => i.key), expectedFaces: items.reduce((s, i) => s + faces[Number(/sample(\d)/.exec(i.path)![1]) - 1], 0) };
        const t0 = Date.now();
        const res = await api<{ jobId: string }>(svc.base, 'POST', '/v1/collections/soak/photos', { items, webhook: { url: hook.url, secret: SECRET } });
        lat.submit.push(Date.now() - t0);
        if (res.status !== 202) {
          errors.push(`submit: HTTP ${res.status}`);
          continue;
        }
        job.jobId = res.json.jobId;
        jobs.push(job);
        job.view = await waitUntilDone(svc.base, job.jobId, lat.status);
        lat.job.push(Date.now() - t0);
        if (Date.now() - lastReport > 30_000) {
          lastReport = Date.now();
          const photos = jobs.filter((j) => j.view).length * batch;
          console.log(`progress: ${((Date.now() - started) / 60_000).toFixed(1)} min, ${photos} photos done, ${lat.search.length} searches`);
        }
      }
    };
    const searcher = async (c: number): Promise<void> => {
      for (let round = 0; Date.now() < deadline; round++) {
        const t = Date.now();
        const res = await searchOnce(svc.base, 1 + ((c + round) % 6));
        if (res.status === 200) lat.search.push(Date.now() - t);
        else errors.push(`search: HTTP ${res.status} ${res.text.slice(0, 120)}`);
      }
    };
    await Promise.all([
      ...Array.from({ length: clients }, (_, c) => client(c)),
      ...Array.from({ length: searchEnabled ? searchClients : 0 }, (_, c) => searcher(c)),
    ]);
    const seconds = (Date.now() - started) / 1000; // includes draining the last round of every client
    await sleep(3_000); // let the last webhooks arrive and the heaps settle
    const rssAfter = new Map<AppName, number>(APPS.map((a) => [a, svc.rss(a) ?? NaN]));

    // Nothing lost, nothing twice.
    const photos = jobs.length * batch;
    const expectedFaces = jobs.reduce((s, j) => s + j.expectedFaces, 0);
    const allFaceIds = new Set<string>();
    let faceIdCount = 0;
    for (const job of jobs) {
      const v = job.view!;
      check(v.state === 'completed' && v.total === batch && v.done === batch && v.failed === 0 && v.faces === job.expectedFaces, `job ${job.jobId}: ${JSON.stringify(v)}`);
      const results = await allResults(svc.base, job.jobId);
      check(results.length === batch && results.map((r) => r.key).sort().join() === [...job.keys].sort().join(), `job ${job.jobId}: keys ${results.map((r) => r.key).join()}`);
      check(results.every((r) => r.status === 'done'), `job ${job.jobId}: a photo not done`);
      for (const f of results.flatMap((r) => r.faces)) {
        allFaceIds.add(f.faceId);
        faceIdCount++;
      }
    }
    check(faceIdCount === expectedFaces && allFaceIds.size === expectedFaces, `face ids: ${allFaceIds.size} distinct of ${faceIdCount}, expected ${expectedFaces}`);
    const collection = (await api<{ photos: number; faces: number }>(svc.base, 'GET', '/v1/collections/soak')).json;
    const cleanFaces = faces.reduce((a, b) => a + b, 0);
    check(collection.photos === photos + 6 && collection.faces === expectedFaces + cleanFaces, `collection: ${JSON.stringify(collection)}, expected ${photos + 6} photos, ${expectedFaces + cleanFaces} faces`);
    const deliveries = new Map<string, number>();
    for (const d of hook.deliveries) deliveries.set(d.body.job.id, (deliveries.get(d.body.job.id) ?? 0) + (d.status === 200 && d.signatureOk ? 1 : 0));
    const notOnce = jobs.filter((j) => deliveries.get(j.jobId) !== 1);
    check(notOnce.length === 0 && hook.deliveries.length === jobs.length, `webhooks: ${notOnce.length} jobs without exactly one delivery; ${hook.deliveries.length} deliveries for ${jobs.length} jobs`);
    check(errors.length === 0, `request errors: ${errors.slice(0, 5).join('; ')}`);
    for (const app of APPS) {
      const growth = rssAfter.get(app)! - rssBefore.get(app)!;
      check(Number.isFinite(growth) && growth <= rssBound, `${app}: RSS grew ${(growth / MiB).toFixed(0)} MiB (bound ${rssBound / MiB} MiB)`);
    }

    console.log(`soak: ${clients} clients, ${minutes} min, batches of ${batch}, FACEPIPE_THREADS=${values.threads}, ${searchEnabled ? `${searchClients} search clients` : 'no search route'}`);
    console.log(`  photos     ${photos} in ${jobs.length} jobs, ${expectedFaces} faces; ${(photos / seconds).toFixed(2)} photos/s over ${seconds.toFixed(0)} s`);
    const row = (name: string, v: number[]) => console.log(`  ${name.padEnd(10)} n=${v.length}  p50 ${ms(percentile(v, 50))}  p95 ${ms(percentile(v, 95))}  p99 ${ms(percentile(v, 99))}`);
    row('submit', lat.submit);
    row('job status', lat.status);
    row('job e2e', lat.job);
    if (searchEnabled) row('search', lat.search);
    for (const app of APPS) {
      console.log(`  rss ${app.padEnd(16)} ${(rssBefore.get(app)! / MiB).toFixed(0)} → ${(rssAfter.get(app)! / MiB).toFixed(0)} MiB`);
    }
    console.log(`  checks     ${failures.length === 0 ? 'all passed (nothing lost, no duplicates, one webhook per job, RSS within bound)' : `${failures.length} FAILED`}`);
    for (const f of failures.slice(0, 20)) console.log(`    ✗ ${f}`);
    process.exitCode = failures.length === 0 ? 0 : 1;
  } finally {
    await hook.close();
    await svc.stop();
  }
}

/** Polls a job until it has completed (or failed), recording each GET's latency. */
async function waitUntilDone(base: string, jobId: string, latencies: number[]): Promise<JobView> {
  for (;;) {
    const t = Date.now();
    const { status, json } = await api<JobView>(base, 'GET', `/v1/jobs/${jobId}`);
    latencies.push(Date.now() - t);
    if (status === 200 && (json.state === 'completed' || json.state === 'failed')) return json;
    await sleep(500);
  }
}

/** One synchronous search with a demo photo (multipart `photo`). */
async function searchOnce(base: string, i: number): Promise<{ status: number; text: string }> {
  const form = new FormData();
  form.append('photo', new Blob([readFileSync(sample(i))]), `sample${i}.jpg`);
  const res = await fetch(`${base}/v1/collections/soak/search`, { method: 'POST', body: form });
  return { status: res.status, text: await res.text() };
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
