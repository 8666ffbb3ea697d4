/**
 * bench/accuracy — whole-pipeline accuracy on a labelled face set (default ../shared/faces):
 * raw file → decode → detect → landmarks → align → embed, then verification and identification
 * metrics. Usage: npm run bench:accuracy -- [--dir DIR] [--manifest FILE] [--no-flip] [--rgb]
 *   [--limit N] [--impostors N] [--threads N]
 *
 * Photos where no face is found stay in: their pairs score −1 (a genuine pair missed, an impostor
 * pair rejected), so detection failures cost what they would cost a user.
 *
 * It also checks the embedded index's graph projection (libs/face-index/src/embedded/projection.ts)
 * on these real embeddings: the dimensions it keeps, and how much of each photo's true top 10
 * (cosine over all dimensions) the projected cosine ranks in its own top 10 and top 64 (the
 * candidates the index re-ranks exactly).
 */
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  FaceEngine,
  defaultManifest,
  dot,
  loadManifestFile,
  operatingPointForFar,
  scoreDistributions,
  type Face,
} from '@facepipe/face-engine';
import { Projection } from '@facepipe/face-index';

interface Row { file: string; identity: string }

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string', default: path.resolve(__dirname, '../../../shared/faces') },
      manifest: { type: 'string' },
      'no-flip': { type: 'boolean', default: false },
      rgb: { type: 'boolean', default: false },
      limit: { type: 'string' },
      impostors: { type: 'string', default: '1000000' },
      threads: { type: 'string', default: '2' },
    },
  });
  const dir = path.resolve(values.dir!);
  const csv = path.join(dir, 'manifest.csv');
  if (!existsSync(csv)) {
    console.error(`bench/accuracy: no labelled face set at ${dir} (expected manifest.csv: path,identity,...)`);
    process.exit(2);
  }
  let rows: Row[] = readFileSync(csv, 'utf8').trim().split('\n').slice(1).map((line) => {
    const [file, identity] = line.split(',');
    return { file: path.join(dir, file), identity };
  });
  if (values.limit) rows = rows.slice(0, Number(values.limit));

  const manifest = values.manifest ? loadManifestFile(values.manifest) : defaultManifest();
  if (values['no-flip']) manifest.embedder.flip = false;
  if (values.rgb) manifest.embedder.pixels.channelOrder = 'rgb';
  const engine = await FaceEngine.create({ manifest, intraOpThreads: Number(values.threads) });
  console.log(`models: ${manifest.name} (detector ${manifest.detector.kind}, landmarks ${manifest.landmarks.source}, ` +
    `embedder ${manifest.embedder.pixels.channelOrder.toUpperCase()}, flip ${manifest.embedder.flip}); ${rows.length} photos from ${dir}`);

  const t0 = Date.now();
  const embeddings: (Float32Array | null)[] = [];
  const noFace: string[] = [];
  for (const [i, row] of rows.entries()) {
    try {
      const image = await engine.decodeFile(row.file);
      const faces = await engine.detect(image);
      const face = subjectFace(faces, image.width, image.height);
      embeddings.push(face ? (await engine.embed(image, [face]))[0] : null);
      if (!face) noFace.push(path.relative(dir, row.file));
    } catch (err) {
      embeddings.push(null);
      noFace.push(`${path.relative(dir, row.file)} (${(err as Error).message})`);
    }
    if ((i + 1) % 500 === 0) console.log(`  ${i + 1}/${rows.length} photos, ${((Date.now() - t0) / (i + 1)).toFixed(1)} ms/photo`);
  }
  await engine.release();
  const msPerPhoto = (Date.now() - t0) / rows.length;

  const sim = (a: number, b: number) => (embeddings[a] && embeddings[b] ? dot(embeddings[a]!, embeddings[b]!) : -1);
  const byIdentity = new Map<string, number[]>();
  rows.forEach((r, i) => byIdentity.set(r.identity, [...(byIdentity.get(r.identity) ?? []), i]));

  // All genuine pairs; impostor pairs sampled (seeded) when there are more than --impostors. The
  // same code as `facepipe calibrate`, so the two agree on thresholds.
  const scores = scoreDistributions(rows.map((r) => r.identity), sim, { maxImpostors: Number(values.impostors) });
  const { genuine, impostor: imp } = scores;
  const atFar = (far: number) => {
    const p = operatingPointForFar(scores, far);
    return `${p.tar.toFixed(4)} (threshold ${p.threshold?.toFixed(4) ?? 'none'}${p.reliable ? '' : ', too few impostor pairs to be reliable'})`;
  };
  const { accuracy, threshold: bestThreshold } = bestBalancedAccuracy(genuine, imp);

  // Rank-1: the first photo of every identity is enrolled (singletons are distractors); every
  // other photo of a multi-photo identity is a probe.
  const gallery = [...byIdentity.entries()].map(([id, idx]) => ({ id, i: idx[0] }));
  let probes = 0, correct = 0;
  for (const [id, idx] of byIdentity) {
    for (const p of idx.slice(1)) {
      probes++;
      let best = -2, bestId = '';
      for (const g of gallery) { const s = sim(p, g.i); if (s > best) { best = s; bestId = g.id; } }
      if (bestId === id && embeddings[p]) correct++;
    }
  }

  const detected = embeddings.filter(Boolean).length;
  console.log(`\nphotos ${rows.length}, identities ${byIdentity.size}, genuine pairs ${genuine.length}, impostor pairs ${imp.length}`);
  console.log(`detection coverage      ${(detected / rows.length).toFixed(4)} (${rows.length - detected} photos without a face)`);
  console.log(`ROC AUC                 ${auc(genuine, imp).toFixed(4)}`);
  console.log(`best balanced accuracy  ${accuracy.toFixed(4)} at threshold ${bestThreshold.toFixed(3)}`);
  console.log(`TAR @ FAR=1e-2          ${atFar(1e-2)}`);
  console.log(`TAR @ FAR=1e-3          ${atFar(1e-3)}`);
  console.log(`rank-1 identification   ${(correct / probes).toFixed(4)} (${probes} probes, gallery ${gallery.length})`);
  console.log(`time                    ${msPerPhoto.toFixed(1)} ms/photo (whole pipeline, ${values.threads} threads)`);
  if (noFace.length) console.log(`no face: ${noFace.slice(0, 20).join(', ')}${noFace.length > 20 ? ', …' : ''}`);
  reportProjection(embeddings.filter((e): e is Float32Array => e !== null));
}

/** The graph projection fitted on these embeddings, and how well projected cosines keep each top 10. */
function reportProjection(vectors: Float32Array[]): void {
  const d = vectors[0]?.length ?? 0;
  const data = new Float32Array(vectors.length * d);
  vectors.forEach((v, i) => data.set(v, i * d));
  const projection = Projection.fit(data, vectors.length, d);
  if (!projection) {
    console.log(`graph projection        none (these ${vectors.length} embeddings need more than ¾ of their ${d} dimensions)`);
    return;
  }
  const projected = projection.apply(data, vectors.length);
  const p = projection.to;
  const topIds = (scores: Float64Array, self: number, n: number) =>
    [...scores.keys()].filter((j) => j !== self).sort((a, b) => scores[b] - scores[a]).slice(0, n);
  const probes = Math.min(vectors.length, 1000);
  let in10 = 0, in64 = 0;
  for (let q = 0; q < probes; q++) {
    const i = Math.floor((q * vectors.length) / probes);
    const full = new Float64Array(vectors.length), proj = new Float64Array(vectors.length);
    for (let j = 0; j < vectors.length; j++) {
      full[j] = dot(vectors[i], vectors[j]);
      let s = 0;
      for (let k = 0; k < p; k++) s += projected[i * p + k] * projected[j * p + k];
      proj[j] = s;
    }
    const truth = topIds(full, i, 10);
    const byProj = topIds(proj, i, 64);
    in10 += truth.filter((t) => byProj.slice(0, 10).includes(t)).length;
    in64 += truth.filter((t) => byProj.includes(t)).length;
  }
  console.log(`graph projection        ${d} → ${p} dimensions; of each photo's true top 10, the projected cosine ranks ` +
    `${((100 * in10) / (probes * 10)).toFixed(1)}% in its top 10 and ${((100 * in64) / (probes * 10)).toFixed(1)}% in its top 64 (${probes} photos)`);
}

/** The photo's subject: the largest face, discounted by its distance from the centre. */
function subjectFace(faces: Face[], width: number, height: number): Face | undefined {
  let best: Face | undefined, bestScore = -1;
  for (const f of faces) {
    const cx = (f.box.x1 + f.box.x2) / 2 / width - 0.5, cy = (f.box.y1 + f.box.y2) / 2 / height - 0.5;
    const score = (f.box.x2 - f.box.x1) * (f.box.y2 - f.box.y1) * (1 - Math.hypot(cx, cy));
    if (score > bestScore) { best = f; bestScore = score; }
  }
  return best;
}

function bestBalancedAccuracy(gen: Float64Array, impSorted: Float64Array): { accuracy: number; threshold: number } {
  let best = { accuracy: 0, threshold: 0 };
  let gi = 0, ii = 0;
  // Sweep thresholds over all scores: a pair is "same" when its similarity > t.
  const all = Float64Array.from([...gen, ...impSorted]).sort();
  for (const t of all) {
    while (gi < gen.length && gen[gi] <= t) gi++;
    while (ii < impSorted.length && impSorted[ii] <= t) ii++;
    const acc = ((gen.length - gi) / gen.length + ii / impSorted.length) / 2;
    if (acc > best.accuracy) best = { accuracy: acc, threshold: t };
  }
  return best;
}

/** ROC AUC as the probability that a random genuine pair outscores a random impostor pair. */
function auc(genuine: Float64Array, impSorted: Float64Array): number {
  let sum = 0;
  for (const g of genuine) {
    let lo = 0, hi = impSorted.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (impSorted[mid] < g) lo = mid + 1; else hi = mid; }
    let eq = lo;
    while (eq < impSorted.length && impSorted[eq] === g) eq++;
    sum += lo + (eq - lo) / 2;
  }
  return sum / (genuine.length * impSorted.length);
}

main().catch((err) => { console.error(err); process.exit(1); });
