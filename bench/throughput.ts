/**
 * bench/throughput — what one replica of each stage does per core, for sizing (docs/operations.md):
 * each stage's own work, in one process with one onnxruntime thread, medians of repeated runs.
 *   detector: decode + multi-scale detect + landmarks + align, photos/s (demo photos, 1920 px)
 *   embedder: embeddings of aligned crops (default model, flip TTA), faces/s
 *   matcher:  per face, nearest-person search + upsert into the embedded index holding --index-size
 *             faces (synthetic clustered 512-d vectors), faces/s
 *   npm run bench:throughput -- [--reps N] [--index-size N]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FaceEngine, type RgbImage } from '@facepipe/face-engine';
import { EmbeddedFaceIndex, type IndexedFace } from '@facepipe/face-index';
import { seededRandom as mulberry32 } from '@facepipe/contracts';

const DEMO = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { reps: { type: 'string', default: '3' }, 'index-size': { type: 'string', default: '100000' } } });
  const reps = Number(values.reps);
  const engine = await FaceEngine.create({ intraOpThreads: 1 });
  const photos = [1, 2, 3, 4, 5, 6].map((i) => readFileSync(path.join(DEMO, `sample${i}.jpg`)));

  // Detector: everything the detector-worker does to a photo before the embed queue.
  const detectRates: number[] = [];
  const crops: RgbImage[] = [];
  for (let r = 0; r < reps; r++) {
    const t = process.hrtime.bigint();
    for (const bytes of photos) {
      const image = await engine.decode(bytes);
      const faces = await engine.detect(image);
      const aligned = await Promise.all(faces.map((f) => engine.align(image, f.landmarks)));
      if (r === 0) crops.push(...aligned);
    }
    detectRates.push(photos.length / seconds(t));
  }
  const facesPerPhoto = crops.length / photos.length;

  // Embedder: the default model with flip, one crop per run (its batch dimension is fixed at 1).
  const embedRates: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = process.hrtime.bigint();
    await engine.embedAligned(crops);
    embedRates.push(crops.length / seconds(t));
  }
  await engine.release();

  // Matcher: search for the nearest person, then upsert, per face, on an index of indexSize faces.
  const indexSize = Number(values['index-size']);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'facepipe-throughput-'));
  const matchRates: number[] = [];
  try {
    const index = await EmbeddedFaceIndex.open(dir);
    await index.ensureCollection('bench', 512);
    const rand = mulberry32(7);
    const centres = Array.from({ length: Math.max(1, indexSize / 10) }, () => unit(Array.from({ length: 512 }, () => gauss(rand))));
    const face = (i: number): IndexedFace => ({
      id: `f${i}`,
      vector: Float32Array.from(unit(centres[i % centres.length].map((c) => c + 0.35 * gauss(rand) / Math.sqrt(512)))),
      payload: { photoKey: `p${Math.floor(i / 4)}`, personId: `person${i % centres.length}` },
    });
    for (let i = 0; i < indexSize; i += 1000) await index.upsert('bench', Array.from({ length: Math.min(1000, indexSize - i) }, (_, k) => face(i + k)));
    const t0 = indexSize;
    for (let r = 0; r < reps; r++) {
      const batch = Array.from({ length: 400 }, (_, k) => face(t0 + r * 400 + k));
      const t = process.hrtime.bigint();
      for (let p = 0; p < batch.length; p += 4) {
        const photo = batch.slice(p, p + 4);
        for (const f of photo) await index.search('bench', f.vector, { k: 5 });
        await index.upsert('bench', photo);
      }
      matchRates.push(batch.length / seconds(t));
    }
    await index.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const m = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`one replica, one core (onnxruntime 1 thread), medians of ${reps} runs; demo photos average ${facesPerPhoto.toFixed(2)} faces\n`);
  console.log(`  detector  ${m(detectRates).toFixed(2).padStart(8)} photos/s   (decode, multi-scale detect, landmarks, align)`);
  console.log(`  embedder  ${m(embedRates).toFixed(2).padStart(8)} faces/s    (fr_feature with flip = ${(m(embedRates) / facesPerPhoto).toFixed(2)} photos/s)`);
  console.log(`  matcher   ${m(matchRates).toFixed(2).padStart(8)} faces/s    (search k=5 + upsert, index of ${indexSize} faces)`);
}

function seconds(t: bigint): number {
  return Number(process.hrtime.bigint() - t) / 1e9;
}

function unit(v: number[]): number[] {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

function gauss(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(rand() || 1e-12)) * Math.cos(2 * Math.PI * rand());
}


main().catch((err) => { console.error(err); process.exit(1); });
