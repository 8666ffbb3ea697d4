/**
 * bench/speed — per-stage timings of the face engine on this machine, medians of repeated runs:
 * detection per photo (demo photo sizes, multi-scale vs one whole-image pass), landmarks,
 * alignment and embedding per face, with 1 and 2 onnxruntime threads; the embedding at batch 1
 * and, for a dynamic-batch model, at larger batches. Usage: npm run bench:speed -- [--reps N]
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  FaceDetector, FaceEmbedder, FaceEngine, Landmarker68, decodeImage, defaultManifest, parseManifest,
} from '@facepipe/face-engine';

const DEMO = path.dirname(require.resolve('@vladmandic/face-api/package.json')) + '/demo';
const SHARED_MODELS = path.resolve(__dirname, '../../../shared/models');

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { reps: { type: 'string', default: '7' } } });
  const reps = Number(values.reps);
  const manifest = defaultManifest();
  const photos = await Promise.all([1, 2, 3, 4, 5, 6].map(async (i) => decodeImage(readFileSync(`${DEMO}/sample${i}.jpg`))));
  console.log(`demo photos: ${photos.map((p) => `${p.width}×${p.height}`).join(', ')}; ${reps} reps, medians\n`);

  // Faces and aligned crops to feed the per-face stages.
  const engine = await FaceEngine.create({ intraOpThreads: 2 });
  const faces = (await Promise.all(photos.map(async (p) => ({ image: p, faces: await engine.detect(p) })))).flatMap((x) => x.faces.map((f) => ({ image: x.image, face: f })));
  const crops = await Promise.all(faces.map(({ image, face }) => engine.align(image, face.landmarks)));
  await engine.release();

  for (const threads of [1, 2]) {
    console.log(`— ${threads} thread${threads > 1 ? 's' : ''}`);
    const det = await FaceDetector.load(manifest.detector, { intraOpThreads: threads });
    const single = await FaceDetector.load({ ...manifest.detector, tiling: { ...manifest.detector.tiling, minFaceSize: 1e9 } }, { intraOpThreads: threads });
    row('detect, multi-scale (default)', 'ms/photo', await perItem(reps, photos, (p) => det.detect(p)));
    row('detect, one whole-image pass', 'ms/photo', await perItem(reps, photos, (p) => single.detect(p)));
    await Promise.all([det.release(), single.release()]);

    if (manifest.landmarks.source === 'model') {
      const lm = await Landmarker68.load(manifest.landmarks, { intraOpThreads: threads });
      row('landmarks (68-pt model)', 'ms/face', await perItem(reps, faces, ({ image, face }) => lm.landmarks68(image, face.box)));
      await lm.release();
    }
    const aligner = await FaceEngine.create({ intraOpThreads: threads });
    row('alignment (Umeyama + warp)', 'ms/face', await perItem(reps, faces, ({ image, face }) => aligner.align(image, face.landmarks)));
    await aligner.release();

    const plain = await FaceEmbedder.load({ ...manifest.embedder, flip: false }, { intraOpThreads: threads });
    const flip = await FaceEmbedder.load({ ...manifest.embedder, flip: true }, { intraOpThreads: threads });
    console.log(`  fr_feature input batch dimension: ${plain.maxBatch === Infinity ? 'dynamic' : plain.maxBatch}`);
    row('embed fr_feature, batch 1', 'ms/face', await perItem(reps, crops, (c) => plain.embed([c])));
    row('embed fr_feature, batch 1 + flip (default)', 'ms/face', await perItem(reps, crops, (c) => flip.embed([c])));
    row('embed fr_feature, all crops in one call', 'ms/face', (await perCall(reps, () => plain.embed(crops))) / crops.length);
    await Promise.all([plain.release(), flip.release()]);
    if (threads === 1) {
      // The alternative to a batch dimension: several single-thread sessions run concurrently.
      const pair = await Promise.all([0, 1].map(() => FaceEmbedder.load({ ...manifest.embedder, flip: false }, { intraOpThreads: 1 })));
      const half = Math.ceil(crops.length / 2);
      row('embed fr_feature, 2 sessions × 1 thread concurrently', 'ms/face',
        (await perCall(reps, () => Promise.all([pair[0].embed(crops.slice(0, half)), pair[1].embed(crops.slice(half))]))) / crops.length);
      await Promise.all(pair.map((e) => e.release()));
    }

    const mfn = path.join(SHARED_MODELS, 'mobilefacenet_128.onnx');
    if (existsSync(mfn)) {
      const m = parseManifest({ ...manifest, embedder: { file: mfn, input: { width: 112, height: 112 }, pixels: { channelOrder: 'bgr', mean: 127.5, std: 127.5 }, dim: 128, flip: false, threshold: 0.5 } });
      const e = await FaceEmbedder.load(m.embedder, { intraOpThreads: threads });
      for (const batch of [1, 8, 32]) {
        const items = Array.from({ length: batch }, (_, i) => crops[i % crops.length]);
        row(`embed mobilefacenet_128 (dynamic batch), batch ${batch}`, 'ms/face', (await perCall(reps, () => e.embed(items))) / batch);
      }
      await e.release();
    }
    console.log('');
  }
}

async function perItem<T>(reps: number, items: T[], fn: (item: T) => Promise<unknown>): Promise<number> {
  await fn(items[0]); // warm-up
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) for (const item of items) {
    const t = process.hrtime.bigint();
    await fn(item);
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(samples);
}

async function perCall(reps: number, fn: () => Promise<unknown>): Promise<number> {
  await fn();
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(samples);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function row(what: string, unit: string, value: number): void {
  console.log(`  ${what.padEnd(52)} ${value.toFixed(2).padStart(8)} ${unit}`);
}


main().catch((err) => { console.error(err); process.exit(1); });
