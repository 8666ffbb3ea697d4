import {
  ARCFACE_TEMPLATE_112,
  affineScale,
  applyAffine,
  invertAffine,
  similarityTransform,
  sourceRegion,
  warpAffine,
  type Affine,
} from './align';
import type { Point, RgbImage } from './types';

/** The similarity x' = s·R(θ)·x + t as a 2×3 matrix. */
function similarity(angle: number, scale: number, tx: number, ty: number): Affine {
  const c = scale * Math.cos(angle), s = scale * Math.sin(angle);
  return [c, -s, tx, s, c, ty];
}

/** Sum of squared distances between m(src) and dst. */
function residual(m: Affine, src: readonly Point[], dst: readonly Point[]): number {
  return src.reduce((sum, p, i) => {
    const q = applyAffine(m, p);
    return sum + (q[0] - dst[i][0]) ** 2 + (q[1] - dst[i][1]) ** 2;
  }, 0);
}

/** A grey-ramp image whose every pixel and channel has a distinct value: v(x, y, c) = 10·(y·w + x) + c. */
function ramp(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = 10 * i + c;
  return { width, height, data };
}

const px = (img: RgbImage, x: number, y: number): number[] => Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));

describe('similarityTransform', () => {
  const known = similarity(Math.PI / 6, 1.7, 12, -5);

  it('recovers rotation 30°, scale 1.7 and translation (12, −5) exactly from five points', () => {
    const dst = ARCFACE_TEMPLATE_112.map((p) => applyAffine(known, p));
    const m = similarityTransform(ARCFACE_TEMPLATE_112, dst);
    m.forEach((v, i) => expect(v).toBeCloseTo(known[i], 9));
    // Spelled out: a = 1.7·cos 30°, c = 1.7·sin 30° = 0.85.
    expect(m[0]).toBeCloseTo(1.7 * (Math.sqrt(3) / 2), 9);
    expect(m[3]).toBeCloseTo(0.85, 9);
    expect(m[2]).toBeCloseTo(12, 9);
    expect(m[5]).toBeCloseTo(-5, 9);
  });

  it('recovers a transform from arbitrary (non-template) points and from only two points', () => {
    const src: Point[] = [[0, 0], [10, 0], [3, 7], [-4, 2], [8, -6]];
    const t = similarity(-2.1, 0.35, -100, 42);
    const m = similarityTransform(src, src.map((p) => applyAffine(t, p)));
    m.forEach((v, i) => expect(v).toBeCloseTo(t[i], 9));
    const m2 = similarityTransform(src.slice(0, 2), src.slice(0, 2).map((p) => applyAffine(t, p)));
    m2.forEach((v, i) => expect(v).toBeCloseTo(t[i], 9));
  });

  it('maps the ArcFace template onto itself as the identity', () => {
    const m = similarityTransform(ARCFACE_TEMPLATE_112, ARCFACE_TEMPLATE_112);
    const identity: Affine = [1, 0, 0, 0, 1, 0];
    m.forEach((v, i) => expect(v).toBeCloseTo(identity[i], 9));
  });

  it('is the least-squares fit under noise: every perturbed similarity has a larger residual', () => {
    const noise: Point[] = [[0.8, -0.3], [-0.6, 0.4], [0.2, 0.9], [-0.5, -0.7], [0.4, 0.2]];
    const dst = ARCFACE_TEMPLATE_112.map((p, i): Point => {
      const q = applyAffine(known, p);
      return [q[0] + noise[i][0], q[1] + noise[i][1]];
    });
    const fit = similarityTransform(ARCFACE_TEMPLATE_112, dst);
    // Still a similarity, close to the true one.
    expect(fit[4]).toBeCloseTo(fit[0], 12);
    expect(fit[1]).toBeCloseTo(-fit[3], 12);
    expect(affineScale(fit)).toBeCloseTo(1.7, 1);

    const best = residual(fit, ARCFACE_TEMPLATE_112, dst);
    expect(best).toBeGreaterThan(0);
    expect(best).toBeLessThan(residual(known, ARCFACE_TEMPLATE_112, dst));
    const [a, , tx, b, , ty] = fit;
    for (let k = 0; k < 4; k++) {
      for (const step of [-1, 1]) {
        const p = [a, b, tx, ty];
        p[k] += step * (k < 2 ? 1e-3 : 1e-2);
        const perturbed: Affine = [p[0], -p[1], p[2], p[1], p[0], p[3]];
        expect(residual(perturbed, ARCFACE_TEMPLATE_112, dst)).toBeGreaterThan(best);
      }
    }
  });

  it('throws for fewer than two points, unequal counts, and identical source points', () => {
    expect(() => similarityTransform([], [])).toThrow();
    expect(() => similarityTransform([[1, 1]], [[2, 2]])).toThrow(/two or more/);
    expect(() => similarityTransform([[0, 0], [1, 1]], [[0, 0]])).toThrow(/equal count/);
    expect(() => similarityTransform([[3, 3], [3, 3]], [[0, 0], [1, 1]])).toThrow(/identical/);
  });
});

describe('applyAffine / invertAffine / affineScale', () => {
  it('applies a matrix by hand', () => {
    expect(applyAffine([2, 3, 4, 5, 6, 7], [1, -1])).toEqual([2 - 3 + 4, 5 - 6 + 7]);
  });

  it('inverts so that inverse ∘ forward is the identity (and vice versa)', () => {
    const m = similarity(1.1, 2.5, -30, 17);
    const inv = invertAffine(m);
    for (const p of [[0, 0], [1, 2], [-50.5, 80.25], [112, 112]] as Point[]) {
      const back = applyAffine(inv, applyAffine(m, p));
      expect(back[0]).toBeCloseTo(p[0], 9);
      expect(back[1]).toBeCloseTo(p[1], 9);
      const fwd = applyAffine(m, applyAffine(inv, p));
      expect(fwd[0]).toBeCloseTo(p[0], 9);
      expect(fwd[1]).toBeCloseTo(p[1], 9);
    }
    // A general (non-similarity) affine too.
    const g: Affine = [2, 1, 3, -1, 4, 5];
    const gi = invertAffine(g);
    const q = applyAffine(gi, applyAffine(g, [7, -3]));
    expect(q[0]).toBeCloseTo(7, 12);
    expect(q[1]).toBeCloseTo(-3, 12);
    expect(affineScale(inv)).toBeCloseTo(1 / 2.5, 12);
  });

  it('throws on a singular matrix', () => {
    expect(() => invertAffine([1, 2, 0, 2, 4, 0])).toThrow(/singular/);
  });

  it('gives the uniform scale of a similarity', () => {
    expect(affineScale(similarity(Math.PI / 6, 1.7, 12, -5))).toBeCloseTo(1.7, 12);
    expect(affineScale(similarity(-2, 0.25, 0, 0))).toBeCloseTo(0.25, 12);
    expect(affineScale([1, 0, 5, 0, 1, 9])).toBe(1);
  });
});

describe('warpAffine', () => {
  const img = ramp(4, 3);

  it('reproduces the image under the identity', () => {
    const out = warpAffine(img, [1, 0, 0, 0, 1, 0], 4, 3);
    expect(out.width).toBe(4);
    expect(out.height).toBe(3);
    expect(Array.from(out.data)).toEqual(Array.from(img.data));
  });

  it('shifts by exactly one column under a translation by (+1, 0), black coming in on the left', () => {
    const out = warpAffine(img, [1, 0, 1, 0, 1, 0], 4, 3);
    for (let y = 0; y < 3; y++) {
      expect(px(out, 0, y)).toEqual([0, 0, 0]);
      for (let x = 1; x < 4; x++) expect(px(out, x, y)).toEqual(px(img, x - 1, y));
    }
  });

  it('shifts by exactly one row under a translation by (0, −1), black coming in at the bottom', () => {
    const out = warpAffine(img, [1, 0, 0, 0, 1, -1], 4, 3);
    for (let x = 0; x < 4; x++) {
      expect(px(out, x, 0)).toEqual(px(img, x, 1));
      expect(px(out, x, 1)).toEqual(px(img, x, 2));
      expect(px(out, x, 2)).toEqual([0, 0, 0]);
    }
  });

  it('averages neighbours at a half-pixel shift', () => {
    const row: RgbImage = { width: 3, height: 1, data: Uint8Array.from([0, 10, 20, 100, 110, 120, 200, 210, 220]) };
    // Output x samples source x − 0.5.
    const out = warpAffine(row, [1, 0, 0.5, 0, 1, 0], 3, 1);
    expect(px(out, 0, 0)).toEqual([0, 5, 10]); // half of pixel 0, half of black outside
    expect(px(out, 1, 0)).toEqual([50, 60, 70]);
    expect(px(out, 2, 0)).toEqual([150, 160, 170]);
    // Both directions at once: a quarter of each of the four neighbours.
    const sq: RgbImage = { width: 2, height: 2, data: Uint8Array.from([0, 0, 0, 40, 40, 40, 80, 80, 80, 200, 200, 200]) };
    const out2 = warpAffine(sq, [1, 0, -0.5, 0, 1, -0.5], 1, 1);
    expect(px(out2, 0, 0)).toEqual([80, 80, 80]);
  });

  it('rounds interpolated values to the nearest integer', () => {
    const row: RgbImage = { width: 2, height: 1, data: Uint8Array.from([10, 0, 101, 13, 4, 0]) };
    // Output 1 samples source 0.25: ¾ of pixel 0 + ¼ of pixel 1 = (10.75, 1, 75.75) → (11, 1, 76).
    expect(px(warpAffine(row, [1, 0, 0.75, 0, 1, 0], 2, 1), 1, 0)).toEqual([11, 1, 76]);
    // Output 1 samples source 0.5: (11.5, 2, 50.5) → (12, 2, 51).
    expect(px(warpAffine(row, [1, 0, 0.5, 0, 1, 0], 2, 1), 1, 0)).toEqual([12, 2, 51]);
  });

  it('rotates by 90° exactly', () => {
    // Forward map (x, y) → (h − 1 − y, x) turns a 4×3 image into a 3×4 one.
    const out = warpAffine(img, [0, -1, 2, 1, 0, 0], 3, 4);
    for (let y = 0; y < 3; y++) for (let x = 0; x < 4; x++) expect(px(out, 2 - y, x)).toEqual(px(img, x, y));
  });

  it('is black wherever the output falls outside the source', () => {
    const out = warpAffine(img, [1, 0, 100, 0, 1, 100], 4, 3);
    expect(out.data.every((v) => v === 0)).toBe(true);
    // A larger output than the source: the extra area is black, the rest a copy.
    const big = warpAffine(img, [1, 0, 0, 0, 1, 0], 6, 4);
    expect(px(big, 3, 2)).toEqual(px(img, 3, 2));
    expect(px(big, 4, 0)).toEqual([0, 0, 0]);
    expect(px(big, 5, 3)).toEqual([0, 0, 0]);
    expect(px(big, 0, 3)).toEqual([0, 0, 0]);
  });

  it('scales down by 2 sampling every other pixel', () => {
    const out = warpAffine(img, [0.5, 0, 0, 0, 0.5, 0], 2, 2);
    expect(px(out, 0, 0)).toEqual(px(img, 0, 0));
    expect(px(out, 1, 0)).toEqual(px(img, 2, 0));
    expect(px(out, 1, 1)).toEqual(px(img, 2, 2));
  });
});

describe('sourceRegion', () => {
  it('is the output rectangle under the identity', () => {
    expect(sourceRegion([1, 0, 0, 0, 1, 0], 112, 96)).toEqual({ x1: 0, y1: 0, x2: 112, y2: 96 });
  });

  it('undoes translation and scale', () => {
    // Output = 2·source + (10, 20): output [0, 112]² comes from source [−5, 51] × [−10, 46].
    const r = sourceRegion([2, 0, 10, 0, 2, 20], 112, 112);
    expect(r.x1).toBeCloseTo(-5, 12);
    expect(r.y1).toBeCloseTo(-10, 12);
    expect(r.x2).toBeCloseTo(51, 12);
    expect(r.y2).toBeCloseTo(46, 12);
  });

  it('is the bounding box of the rotated output rectangle', () => {
    // A 45° rotation about the origin: the inverse turns the 10×10 square into a diamond.
    const r = sourceRegion(similarity(Math.PI / 4, 1, 0, 0), 10, 10);
    const h = 10 * Math.SQRT1_2;
    expect(r.x1).toBeCloseTo(0, 9);
    expect(r.x2).toBeCloseTo(2 * h, 9);
    expect(r.y1).toBeCloseTo(-h, 9);
    expect(r.y2).toBeCloseTo(h, 9);
  });
});
