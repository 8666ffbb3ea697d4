/**
 * The graph's projection, alone and in an index: fitted on vectors that live in a subspace it keeps
 * their geometry; on vectors that fill their space it declines; an index that fits one keeps
 * finding the true neighbours, saves it with its snapshot, reopens with it without fitting again,
 * and refuses a damaged projection file.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rng, unit } from '../conformance/face-index.conformance';
import { FaceIndexError } from '../errors';
import type { IndexedFace } from '../face-index';
import { EmbeddedFaceIndex } from './embedded-face-index';
import type { FaceIndexEvent } from './embedded-options';
import { PROJECTION_MAX_DIMENSIONS, Projection } from './projection';

const temps: string[] = [];
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

/** `rank` random orthonormal directions in `dims` (Gram–Schmidt). */
function basis(r: () => number, rank: number, dims: number): Float32Array[] {
  const out: Float32Array[] = [];
  while (out.length < rank) {
    const v = unit(r, dims);
    for (const b of out) {
      const d = v.reduce((s, x, i) => s + x * b[i], 0);
      for (let i = 0; i < dims; i++) v[i] -= d * b[i];
    }
    const n = Math.hypot(...v);
    out.push(v.map((x) => x / n));
  }
  return out;
}

/** Clustered unit vectors that live in the span of `dirs`: `clusters` centres, `noise` around each. */
function subspaceFaces(r: () => number, dirs: Float32Array[], dims: number, n: number, clusters = 50, noise = 0.5): Float32Array[] {
  const rank = dirs.length;
  const centres = Array.from({ length: clusters }, () => unit(r, rank));
  return Array.from({ length: n }, (_, i) => {
    const z = centres[i % clusters].map((c) => c + noise * (r() - 0.5));
    const v = new Float32Array(dims);
    z.forEach((zi, k) => dirs[k].forEach((b, j) => (v[j] += zi * b)));
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  });
}

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);

describe('Projection.fit', () => {
  it('keeps the span of vectors that use 10 of 64 dimensions: 16 orthonormal rows, cosines unchanged', () => {
    const r = rng(1);
    const vs = subspaceFaces(r, basis(r, 10, 64), 64, 400);
    const sample = new Float32Array(400 * 64);
    vs.forEach((v, i) => sample.set(v, i * 64));
    const p = Projection.fit(sample, 400, 64)!;
    expect(p).not.toBeNull();
    expect(p.to).toBe(16);
    const rows = Array.from({ length: p.to }, (_, i) => p.matrix.subarray(i * 64, (i + 1) * 64));
    for (let i = 0; i < p.to; i++) for (let j = 0; j < p.to; j++) expect(dot(rows[i], rows[j])).toBeCloseTo(i === j ? 1 : 0, 4);
    const projected = p.apply(sample, 400);
    for (let i = 0; i < 50; i++) {
      const a = projected.subarray(i * 16, (i + 1) * 16), b = projected.subarray((i + 7) * 16, (i + 8) * 16);
      expect(Math.hypot(...a)).toBeCloseTo(1, 5);
      expect(dot(a, b)).toBeCloseTo(dot(vs[i], vs[i + 7]), 4);
    }
  });

  it('declines vectors that fill their space, and a sample smaller than the dimension', () => {
    const r = rng(2);
    const iso = new Float32Array(400 * 32);
    for (let i = 0; i < 400; i++) iso.set(unit(r, 32), i * 32);
    expect(Projection.fit(iso, 400, 32)).toBeNull();
    expect(Projection.fit(iso, 20, 32)).toBeNull();
  });

  it('fits nothing above PROJECTION_MAX_DIMENSIONS (the eigensolver would block for too long)', () => {
    const dims = PROJECTION_MAX_DIMENSIONS + 16;
    const r = rng(4);
    const dirs = basis(r, 4, dims);
    const rows = dims + 10;
    const sample = new Float32Array(rows * dims);
    subspaceFaces(r, dirs, dims, rows).forEach((v, i) => sample.set(v, i * dims));
    expect(Projection.fit(sample, rows, dims)).toBeNull();
  });
});

describe('EmbeddedFaceIndex with a projected graph', () => {
  const DIMS = 64;

  async function build(dir: string, events: FaceIndexEvent[]): Promise<{ index: EmbeddedFaceIndex; faces: IndexedFace[]; queries: Float32Array[] }> {
    const r = rng(3);
    const dirs = basis(r, 12, DIMS);
    const vectors = subspaceFaces(r, dirs, DIMS, 1600, 200, 0.6);
    const faces = vectors.slice(0, 1500).map((vector, i) => ({ id: `f${i}`, vector, payload: { photoKey: `p${i}` } }));
    const index = await EmbeddedFaceIndex.open(dir, { threads: 2, projectionFrom: 1000, expansionSearch: 64, onEvent: (e) => events.push(e) });
    await index.ensureCollection('c', DIMS);
    for (let at = 0; at < faces.length; at += 250) await index.upsert('c', faces.slice(at, at + 250));
    return { index, faces, queries: vectors.slice(1500) };
  }

  it('fits once it holds projectionFrom faces, finds the true neighbours, and reopens with the same graph', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'face-index-proj-'));
    temps.push(dir);
    const events: FaceIndexEvent[] = [];
    const { index, queries } = await build(dir, events);
    const fitted = events.filter((e) => e.type === 'projection');
    expect(fitted).toEqual([expect.objectContaining({ collection: 'c', from: DIMS, to: 16 })]);
    expect((fitted[0] as { faces: number }).faces).toBeGreaterThanOrEqual(1000);

    let found = 0;
    const before: string[][] = [];
    for (const q of queries) {
      const hits = await index.search('c', q, { k: 10 });
      const truth = new Set((await index.search('c', q, { k: 10, exact: true })).map((h) => h.id));
      found += hits.filter((h) => truth.has(h.id)).length;
      before.push(hits.map((h) => h.id));
    }
    expect(found / (queries.length * 10)).toBeGreaterThanOrEqual(0.95);
    await index.close();

    const manifest = JSON.parse(readFileSync(path.join(dir, 'c', 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ format: 2, projectionFitted: true, snapshot: { projection: { to: 16 } } });
    const reopenedEvents: FaceIndexEvent[] = [];
    const reopened = await EmbeddedFaceIndex.open(dir, { threads: 2, projectionFrom: 1000, expansionSearch: 64, onEvent: (e) => reopenedEvents.push(e) });
    for (const [i, q] of queries.entries()) expect((await reopened.search('c', q, { k: 10 })).map((h) => h.id)).toEqual(before[i]);
    // Writes after the reopen go through the same projection; no second fit.
    await reopened.upsert('c', [{ id: 'late', vector: queries[0], payload: { photoKey: 'late' } }]);
    expect((await reopened.search('c', queries[0], { k: 1 }))[0].id).toBe('late');
    await reopened.checkpoint();
    expect(reopenedEvents.filter((e) => e.type === 'projection')).toEqual([]);
    await reopened.close();
  });

  it('refuses a projection file that does not match the manifest', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'face-index-proj-'));
    temps.push(dir);
    const { index } = await build(dir, []);
    await index.close();
    const manifest = JSON.parse(readFileSync(path.join(dir, 'c', 'manifest.json'), 'utf8'));
    const file = path.join(dir, 'c', `projection-${manifest.generation}.f32`);
    const bytes = readFileSync(file);
    bytes[100] ^= 0xff;
    writeFileSync(file, bytes);
    await expect(EmbeddedFaceIndex.open(dir)).rejects.toMatchObject({ constructor: FaceIndexError, code: 'INDEX_CORRUPT' });
  });
});
