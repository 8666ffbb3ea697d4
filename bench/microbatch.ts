/**
 * bench/microbatch — what the embedder-worker's cross-job micro-batching buys: 96 concurrent photo
 * jobs of 1–4 aligned crops each go through the MicroBatcher at batch size 1 (no batching) and 16,
 * with the default embedder (fixed batch 1) and, where ../shared/models has it, MobileFaceNet
 * (dynamic batch). Prints faces/s, medians of 5 runs.  npm run bench:microbatch -- [--threads N]
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FaceEngine, defaultManifest, parseManifest, type ModelManifest, type RgbImage } from '@facepipe/face-engine';
import { MicroBatcher } from '@facepipe/pipeline';

const DEMO = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
const MOBILEFACENET = path.resolve(__dirname, '../../../shared/models/mobilefacenet_128.onnx');

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { threads: { type: 'string', default: '2' } } });
  const threads = Number(values.threads);
  const engine = await FaceEngine.create({ intraOpThreads: threads });
  const crops: RgbImage[] = [];
  for (let i = 1; i <= 6; i++) {
    const image = await engine.decode(readFileSync(path.join(DEMO, `sample${i}.jpg`)));
    for (const f of await engine.detect(image)) crops.push(await engine.align(image, f.landmarks));
  }
  await engine.release();
  // 96 jobs of 1–4 faces each, drawn round-robin from the demo crops.
  const jobs = Array.from({ length: 96 }, (_, j) => Array.from({ length: 1 + (j % 4) }, (_, k) => crops[(j * 4 + k) % crops.length]));
  const faces = jobs.reduce((n, j) => n + j.length, 0);

  const manifests: [string, ModelManifest][] = [['fr_feature (fixed batch 1, flip)', defaultManifest()]];
  if (existsSync(MOBILEFACENET)) {
    manifests.push(['mobilefacenet_128 (dynamic batch)', parseManifest({ ...defaultManifest(), embedder: { file: MOBILEFACENET, input: { width: 112, height: 112 }, pixels: { channelOrder: 'bgr', mean: 127.5, std: 127.5 }, dim: 128, flip: false, threshold: 0.5 } })]);
  }
  console.log(`${jobs.length} concurrent jobs, ${faces} faces, ${threads} onnxruntime threads; faces/s, median of 5\n`);
  for (const [name, manifest] of manifests) {
    const e = await FaceEngine.create({ manifest, intraOpThreads: threads });
    for (const batch of [1, 16]) {
      const batcher = new MicroBatcher<RgbImage, Float32Array>((items) => e.embedAligned(items), batch, 5);
      await Promise.all(jobs.slice(0, 4).map((j) => batcher.submit(j)));
      const rates: number[] = [];
      for (let r = 0; r < 5; r++) {
        const t = process.hrtime.bigint();
        await Promise.all(jobs.map((j) => batcher.submit(j)));
        rates.push(faces / (Number(process.hrtime.bigint() - t) / 1e9));
      }
      rates.sort((a, b) => a - b);
      console.log(`  ${name.padEnd(36)} batch ${String(batch).padStart(2)}: ${rates[2].toFixed(1).padStart(7)} faces/s`);
    }
    await e.release();
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
