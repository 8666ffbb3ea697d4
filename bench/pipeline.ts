/**
 * bench/pipeline — ingest throughput of the whole service on this machine: N photos (default the
 * six demo photos repeated to 500, under distinct keys) submitted by path through the HTTP API
 * and carried through the detect → embed → match queues by separate worker processes. Prints
 * photos/s and faces/s end to end, the model-only throughput of the same engine on the same photos
 * measured in the same run, and their ratio.
 *   npm run bench:pipeline -- [--photos N] [--threads N]
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FaceEngine } from '@facepipe/face-engine';
import { startService, waitFor } from '@facepipe/testing';

const DEMO = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
const FILES = [1, 2, 3, 4, 5, 6].map((i) => path.join(DEMO, `sample${i}.jpg`));

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { photos: { type: 'string', default: '500' }, threads: { type: 'string', default: '1' } } });
  const n = Number(values.photos);
  const cores = os.availableParallelism();

  // Model-only: the same engine, in one process, on the same photos, one after another, with all
  // cores as intra-op threads (the best a single process does without a pipeline).
  const engine = await FaceEngine.create({ intraOpThreads: cores });
  const bytes = FILES.map((f) => readFileSync(f));
  await engine.analyze(bytes[0], { embed: true });
  let modelFaces = 0;
  const reps = Math.max(1, Math.ceil(Math.min(n, 60) / FILES.length));
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < reps; r++) for (const b of bytes) modelFaces += (await engine.analyze(b, { embed: true })).faces.length;
  const modelSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await engine.release();
  const modelPhotosPerSec = (reps * bytes.length) / modelSeconds;

  const service = await startService({ FACEPIPE_PATH_ROOTS: DEMO, FACEPIPE_THREADS: values.threads! });
  try {
    const post = async (route: string, body: unknown) => {
      const res = await fetch(service.base + route, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (!res.ok) throw new Error(`${route} → ${res.status} ${await res.text()}`);
      return res.json() as Promise<Record<string, unknown>>;
    };
    await post('/v1/collections', { name: 'bench' });
    const items = Array.from({ length: n }, (_, i) => ({ key: `photo-${String(i).padStart(6, '0')}.jpg`, path: FILES[i % FILES.length] }));
    const started = Date.now();
    const { jobId } = await post('/v1/collections/bench/photos', { items });
    const job = await waitFor('the ingest to complete', 3_600_000, async () => {
      const view = (await (await fetch(`${service.base}/v1/jobs/${jobId}`)).json()) as { state: string; done: number; failed: number; faces: number };
      return view.state === 'completed' || view.state === 'failed' ? view : null;
    });
    const seconds = (Date.now() - started) / 1000;
    const photosPerSec = n / seconds;
    console.log(`machine: ${cores} cores; worker onnxruntime threads: ${values.threads}`);
    console.log(`pipeline:   ${n} photos (${job.done} done, ${job.failed} failed), ${job.faces} faces in ${seconds.toFixed(1)} s`);
    console.log(`            ${photosPerSec.toFixed(2)} photos/s, ${(job.faces / seconds).toFixed(2)} faces/s end to end`);
    console.log(`model-only: ${modelPhotosPerSec.toFixed(2)} photos/s, ${((modelFaces / reps / bytes.length) * modelPhotosPerSec).toFixed(2)} faces/s (${reps * bytes.length} photos in one process, ${cores} threads)`);
    console.log(`ratio:      ${(photosPerSec / modelPhotosPerSec).toFixed(3)} (target ≥ 0.85)`);
  } finally {
    await service.stop();
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
