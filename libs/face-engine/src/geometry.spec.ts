/** Hand-checked values for the engine's pure maths: alignment, NMS, tiling, similarity, decoding. */
import { ARCFACE_TEMPLATE_112, applyAffine, similarityTransform, warpAffine, type Affine } from './align';
import { decodeUltraface } from './decoders/ultraface';
import { iou, nms, suppressContained } from './nms';
import { cosineSimilarity, l2Normalize } from './similarity';
import { planTiles } from './tiling';
import type { Point, RgbImage } from './types';

describe('similarityTransform (Umeyama)', () => {
  const angle = Math.PI / 6, scale = 1.7, tx = 12, ty = -5;
  const known: Affine = [scale * Math.cos(angle), -scale * Math.sin(angle), tx, scale * Math.sin(angle), scale * Math.cos(angle), ty];

  it('recovers a known rotation, scale and translation exactly', () => {
    const dst = ARCFACE_TEMPLATE_112.map((p) => applyAffine(known, p));
    const m = similarityTransform(ARCFACE_TEMPLATE_112, dst);
    m.forEach((v, i) => expect(v).toBeCloseTo(known[i], 9));
  });

  it('is the least-squares fit under noise', () => {
    const noise: Point[] = [[0.5, -0.3], [-0.4, 0.2], [0.1, 0.6], [-0.2, -0.5], [0.3, 0.1]];
    const dst = ARCFACE_TEMPLATE_112.map((p, i) => {
      const q = applyAffine(known, p);
      return [q[0] + noise[i][0], q[1] + noise[i][1]] as Point;
    });
    const residual = (m: Affine) => ARCFACE_TEMPLATE_112.reduce((s, p, i) => {
      const q = applyAffine(m, p);
      return s + (q[0] - dst[i][0]) ** 2 + (q[1] - dst[i][1]) ** 2;
    }, 0);
    const fit = similarityTransform(ARCFACE_TEMPLATE_112, dst);
    // Any other similarity (a, b, tx, ty) → [a, −b, tx, b, a, ty] fits worse.
    const [a, , tx, b, , ty] = fit;
    const sim = (p: number[]): Affine => [p[0], -p[1], p[2], p[1], p[0], p[3]];
    for (let k = 0; k < 4; k++) {
      for (const step of [-1, 1]) {
        const params = [a, b, tx, ty];
        params[k] += step * (k < 2 ? 0.001 : 0.05);
        expect(residual(fit)).toBeLessThan(residual(sim(params)));
      }
    }
  });

  it('throws on fewer than two points', () => {
    expect(() => similarityTransform([[1, 1]], [[2, 2]])).toThrow();
  });
});

describe('warpAffine', () => {
  const img: RgbImage = { width: 3, height: 1, data: Uint8Array.from([0, 0, 0, 100, 100, 100, 200, 200, 200]) };
  it('reproduces the image under the identity', () => {
    expect(Array.from(warpAffine(img, [1, 0, 0, 0, 1, 0], 3, 1).data)).toEqual(Array.from(img.data));
  });
  it('shifts by whole pixels exactly, interpolates half pixels, and fills outside with black', () => {
    expect(Array.from(warpAffine(img, [1, 0, 1, 0, 1, 0], 3, 1).data.filter((_, i) => i % 3 === 0))).toEqual([0, 0, 100]);
    expect(Array.from(warpAffine(img, [1, 0, -0.5, 0, 1, 0], 2, 1).data.filter((_, i) => i % 3 === 0))).toEqual([50, 150]);
  });
});

describe('nms and containment', () => {
  const box = (x1: number, y1: number, x2: number, y2: number) => ({ x1, y1, x2, y2 });
  it('computes IoU by hand', () => {
    expect(iou(box(0, 0, 10, 10), box(20, 20, 30, 30))).toBe(0);
    expect(iou(box(0, 0, 10, 10), box(0, 0, 10, 10))).toBe(1);
    expect(iou(box(0, 0, 10, 10), box(5, 0, 15, 10))).toBeCloseTo(50 / 150, 12);
  });
  it('keeps the best of overlapping boxes and all separate ones, best first', () => {
    const kept = nms([
      { box: box(0, 0, 10, 10), score: 0.8 },
      { box: box(1, 1, 11, 11), score: 0.9 },
      { box: box(50, 50, 60, 60), score: 0.7 },
    ], 0.4);
    expect(kept.map((d) => d.score)).toEqual([0.9, 0.7]);
  });
  it('drops a part-of-a-face box inside a better one, keeps neighbours', () => {
    const kept = suppressContained([
      { box: box(0, 0, 100, 100), score: 0.99 },
      { box: box(10, 50, 60, 95), score: 0.9 },
      { box: box(90, 0, 190, 100), score: 0.95 },
    ], 0.6);
    expect(kept.map((d) => d.score)).toEqual([0.99, 0.95]);
  });
});

describe('planTiles', () => {
  const opts = { minFaceSize: 32, smallFace: 20, largeFace: 48, maxTiles: 256 };
  it('uses one whole-image pass when the image is small', () => {
    const tiles = planTiles(300, 200, 320, 240, opts);
    expect(tiles).toHaveLength(1);
    expect(tiles[0]).toMatchObject({ level: 0, minFace: 0, maxFace: Infinity, region: { x1: 0, y1: 0, x2: 300, y2: 200 } });
  });
  it('doubles the scale per level and covers the image with overlapping tiles', () => {
    const tiles = planTiles(1920, 1280, 320, 240, opts);
    const scales = [...new Set(tiles.map((t) => t.scale))];
    expect(scales).toEqual([1 / 6, 1 / 3, 2 / 3]);
    for (const t of tiles) {
      expect((t.region.x2 - t.region.x1) * t.scale).toBeLessThanOrEqual(320 + 1e-9);
      expect((t.region.y2 - t.region.y1) * t.scale).toBeLessThanOrEqual(240 + 1e-9);
    }
    const finest = tiles.filter((t) => t.level === 2);
    expect(finest.every((t) => t.minFace === 0)).toBe(true);
    expect(tiles.filter((t) => t.level === 1).every((t) => t.minFace === 20 && t.maxFace === 48)).toBe(true);
    expect(Math.max(...finest.map((t) => t.region.x2))).toBe(1920);
    expect(Math.max(...finest.map((t) => t.region.y2))).toBe(1280);
    const row = finest.filter((t) => t.region.y1 === 0).sort((a, b) => a.region.x1 - b.region.x1);
    for (let i = 1; i < row.length; i++) expect(row[i - 1].region.x2 - row[i].region.x1).toBeGreaterThanOrEqual(48 / (2 / 3) - 1);
    expect(row[0].innerEdges).toEqual({ left: false, top: false, right: true, bottom: true });
  });
  it('drops the finest levels first when over the tile budget', () => {
    const tiles = planTiles(1920, 1280, 320, 240, { ...opts, maxTiles: 10 });
    expect(Math.max(...tiles.map((t) => t.level))).toBe(1);
    expect(tiles.filter((t) => t.level === 1).every((t) => t.minFace === 0)).toBe(true);
  });
});

describe('similarity', () => {
  it('gives cosine 1, 0 and −1 for parallel, orthogonal and opposite vectors', () => {
    expect(cosineSimilarity([1, 2], [2, 4])).toBeCloseTo(1, 12);
    expect(cosineSimilarity([1, 0], [0, 3])).toBe(0);
    expect(cosineSimilarity([1, 1], [-2, -2])).toBeCloseTo(-1, 12);
    expect(cosineSimilarity([0, 0], [1, 1])).toBe(0);
    expect(() => cosineSimilarity([1], [1, 2])).toThrow();
    expect(Math.hypot(...l2Normalize(Float32Array.from([3, 4])))).toBeCloseTo(1, 6);
  });
});

describe('decodeUltraface', () => {
  it('scales normalised corners to the input and filters by score', () => {
    const scores = { data: Float32Array.from([0.1, 0.9, 0.6, 0.4, 0.2, 0.8]), dims: [1, 3, 2] };
    const boxes = { data: Float32Array.from([0.1, 0.2, 0.3, 0.5, 0, 0, 1, 1, 0.5, 0.5, 0.4, 0.6]), dims: [1, 3, 4] };
    const out = decodeUltraface({ scores, boxes }, { width: 320, height: 240 }, 0.7);
    // The third box has x2 < x1: degenerate, dropped.
    expect(out).toHaveLength(1);
    expect(out[0].score).toBeCloseTo(0.9, 6);
    expect(out[0].box.x1).toBeCloseTo(32, 4);
    expect(out[0].box.y1).toBeCloseTo(48, 4);
    expect(out[0].box.x2).toBeCloseTo(96, 4);
    expect(out[0].box.y2).toBeCloseTo(120, 4);
    expect(() => decodeUltraface({ scores }, { width: 320, height: 240 }, 0.5)).toThrow(/boxes/);
  });
});
