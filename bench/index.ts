/**
 * bench/index — the embedded face index alone, on synthetic face-like embeddings: build time,
 * recall@10 of the HNSW search against the exact search, single-thread query latency, memory and
 * disk. Usage: npm run build && node dist/bench/index.js [--n 100000] [--queries 1000]
 *   [--dims 512] [--connectivity M] [--expansion-add EF] [--quantization i8|f16|bf16|f32]
 *   [--ef 128,256,512,768,1024] [--noise 0.036] [--threads N] [--dir path]
 * Graph settings default to the library's (EMBEDDED_INDEX_DEFAULTS).
 *
 * Data: n/10 cluster centres (identities) uniform on the sphere; each face = a random centre +
 * Gaussian noise of `noise` per dimension, normalised. noise 0.036 at 512-d puts a face at cosine
 * ≈ 0.8 from its centre and ≈ 0.6 from another face of the same identity, about what an ArcFace
 * embedder gives for two photos of one person; faces of different identities are near-orthogonal.
 * Queries are fresh faces of random identities. Isotropic noise in 512-d is a hard case for HNSW:
 * beyond a query's ~10 cluster mates, its true top 10 are near-ties among unrelated faces.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { EMBEDDED_INDEX_DEFAULTS, EmbeddedFaceIndex, type HnswQuantization, type IndexedFace } from '@facepipe/face-index';

const K = 10;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      n: { type: 'string', default: '100000' },
      queries: { type: 'string', default: '1000' },
      dims: { type: 'string', default: '512' },
      connectivity: { type: 'string', default: String(EMBEDDED_INDEX_DEFAULTS.connectivity) },
      'expansion-add': { type: 'string', default: String(EMBEDDED_INDEX_DEFAULTS.expansionAdd) },
      ef: { type: 'string', default: '128,256,512,768,1024' },
      quantization: { type: 'string', default: EMBEDDED_INDEX_DEFAULTS.quantization },
      noise: { type: 'string', default: '0.036' },
      threads: { type: 'string', default: String(Math.min(os.availableParallelism(), 8)) },
      batch: { type: 'string', default: '1000' },
      dir: { type: 'string' },
    },
  });
  const n = Number(values.n), dims = Number(values.dims), queries = Number(values.queries);
  const noise = Number(values.noise), batch = Number(values.batch), threads = Number(values.threads);
  const efs = values.ef.split(',').map(Number).sort((a, b) => a - b);
  const r = mulberry32(42);
  const gauss = gaussian(r);

  const centres = n < 10 ? 1 : Math.floor(n / 10);
  const centre = new Float32Array(centres * dims);
  for (let c = 0; c < centres; c++) normalise(centre.subarray(c * dims, (c + 1) * dims).map(() => gauss()), centre, c * dims);
  const face = (out: Float32Array): number => {
    const c = Math.floor(r() * centres);
    for (let j = 0; j < dims; j++) out[j] = centre[c * dims + j] + noise * gauss();
    normalise(out, out, 0);
    return c;
  };

  console.log(`${fmt(n)} faces, ${dims}-d, ${fmt(centres)} identities, noise ${noise}; HNSW M=${values.connectivity}, ` +
    `ef_add=${values['expansion-add']}, ${values.quantization}; ${threads} insert threads; ${os.availableParallelism()} cores`);

  const dir = values.dir ?? mkdtempSync(path.join(os.tmpdir(), 'facepipe-bench-index-'));
  const rssBefore = process.memoryUsage().rss;
  let index = await EmbeddedFaceIndex.open(dir, {
    connectivity: Number(values.connectivity),
    expansionAdd: Number(values['expansion-add']),
    quantization: values.quantization as HnswQuantization,
    threads,
  });
  await index.ensureCollection('bench', dims);

  // Build: batches as the matcher would send them (each one WAL record + one fsync).
  let insertMs = 0;
  const started = Date.now();
  for (let at = 0; at < n; at += batch) {
    const faces: IndexedFace[] = [];
    for (let i = at; i < Math.min(n, at + batch); i++) {
      const vector = new Float32Array(dims);
      const c = face(vector);
      faces.push({ id: `f${i}`, vector, payload: { photoKey: `photo${i}`, personId: `person${c}` } });
    }
    const t = performance.now();
    await index.upsert('bench', faces);
    insertMs += performance.now() - t;
    if (process.stdout.isTTY) process.stdout.write(`\r  building… ${fmt(Math.min(n, at + batch))}`);
  }
  if (process.stdout.isTTY) process.stdout.write('\r');
  const rssBuilt = process.memoryUsage().rss;
  console.log(`build: ${(insertMs / 1000).toFixed(1)} s in upsert (${fmt(Math.round(n / (insertMs / 1000)))} faces/s), ${((Date.now() - started) / 1000).toFixed(1)} s with data generation`);
  console.log(`RSS growth: ${mb(rssBuilt - rssBefore)} (${((rssBuilt - rssBefore) / n).toFixed(0)} B/face; the raw float32 vectors alone are ${mb(n * dims * 4)})`);

  // Ground truth: the index's exact search (native brute force over the stored float32 vectors).
  const qs: Float32Array[] = [];
  const qCentre: number[] = [];
  for (let q = 0; q < queries; q++) {
    const v = new Float32Array(dims);
    qCentre.push(face(v));
    qs.push(v);
  }
  const truth: Set<string>[] = [];
  // The part of the true top 10 that matters for face matching: faces of the query's identity.
  const mates: Set<string>[] = [];
  const exactMs: number[] = [];
  for (let q = 0; q < queries; q++) {
    const t = performance.now();
    const hits = await index.search('bench', qs[q], { k: K, exact: true });
    exactMs.push(performance.now() - t);
    truth.push(new Set(hits.map((h) => h.id)));
    mates.push(new Set(hits.filter((h) => h.payload.personId === `person${qCentre[q]}`).map((h) => h.id)));
  }
  console.log(`exact search (brute force, ${threads} threads): p50 ${pct(exactMs, 50)} ms, p99 ${pct(exactMs, 99)} ms\n`);

  console.log('HNSW search, 1 thread, k=10:');
  console.log('  ef      recall@10   same-identity recall   p50 ms   p99 ms');
  const mateTotal = mates.reduce((s, m) => s + m.size, 0);
  let chosen: { ef: number; recall: number; p99: string } | undefined;
  for (const ef of efs) {
    const lat: number[] = [];
    let found = 0, matesFound = 0;
    for (let q = 0; q < queries; q++) {
      const t = performance.now();
      const hits = await index.search('bench', qs[q], { k: K, expansionSearch: ef });
      lat.push(performance.now() - t);
      for (const h of hits) {
        if (truth[q].has(h.id)) found++;
        if (mates[q].has(h.id)) matesFound++;
      }
    }
    const recall = found / (queries * K);
    console.log(`  ${String(ef).padEnd(7)} ${recall.toFixed(4).padEnd(11)} ${(matesFound / mateTotal).toFixed(4).padEnd(22)} ` +
      `${pct(lat, 50).padStart(6)}   ${pct(lat, 99).padStart(6)}`);
    if (!chosen && recall >= 0.99) chosen = { ef, recall, p99: pct(lat, 99) };
  }
  console.log(chosen
    ? `  → recall@10 ≥ 0.99 from ef=${chosen.ef} (recall ${chosen.recall.toFixed(4)}, p99 ${chosen.p99} ms)`
    : `  → no ef tried reaches recall@10 0.99; try larger --ef or --connectivity`);

  // Filtered search within one identity's faces (the matcher's "is this the same person" case).
  const filtLat: number[] = [];
  for (let q = 0; q < queries; q++) {
    const t = performance.now();
    await index.search('bench', qs[q], { k: K, filter: { personId: `person${qCentre[q]}` } });
    filtLat.push(performance.now() - t);
  }
  console.log(`\nfiltered search (personId, ~10 faces): p50 ${pct(filtLat, 50)} ms, p99 ${pct(filtLat, 99)} ms`);

  let t = Date.now();
  await index.close();
  console.log(`close (checkpoint: snapshot written and fsynced): ${((Date.now() - t) / 1000).toFixed(1)} s`);
  console.log(`on disk after close: ${mb(du(dir))}`);
  for (const f of readdirSync(path.join(dir, 'bench')).sort()) console.log(`  ${f.padEnd(20)} ${mb(statSync(path.join(dir, 'bench', f)).size)}`);
  t = Date.now();
  index = await EmbeddedFaceIndex.open(dir, { threads });
  console.log(`reopen (load snapshot): ${((Date.now() - t) / 1000).toFixed(1)} s, ${fmt(await index.count('bench'))} faces`);
  await index.close();
  if (!values.dir) rmSync(dir, { recursive: true, force: true });
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples (Box–Muller, both values used). */
function gaussian(r: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const m = Math.sqrt(-2 * Math.log(1 - r())), a = 2 * Math.PI * r();
    spare = m * Math.sin(a);
    return m * Math.cos(a);
  };
}

function normalise(v: Float32Array, out: Float32Array, at: number): void {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const norm = Math.sqrt(s);
  for (let i = 0; i < v.length; i++) out[at + i] = v[i] / norm;
}

function pct(values: number[], p: number): string {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))].toFixed(2);
}

function du(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.size;
  return readdirSync(p).reduce((s, f) => s + du(path.join(p, f)), 0);
}

const fmt = (x: number) => x.toLocaleString('en-US');
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
