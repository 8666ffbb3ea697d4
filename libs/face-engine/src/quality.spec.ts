import { ARCFACE_TEMPLATE_112, applyAffine, type Affine } from './align';
import { faceQuality, frontalness } from './quality';
import type { Box, FivePoints, Point } from './types';

/** A perfectly frontal synthetic face: eyes 10 apart, nose half way down to the mouth. */
const FRONTAL: FivePoints = [[0, 0], [10, 0], [5, 5], [2, 10], [8, 10]];

const withNose = (points: FivePoints, nose: Point): FivePoints => [points[0], points[1], nose, points[3], points[4]];
const transform = (points: FivePoints, m: Affine) => points.map((p) => applyAffine(m, p)) as FivePoints;
const rotation = (deg: number, scale = 1, tx = 0, ty = 0): Affine => {
  const a = (deg * Math.PI) / 180;
  return [scale * Math.cos(a), -scale * Math.sin(a), tx, scale * Math.sin(a), scale * Math.cos(a), ty];
};

describe('frontalness', () => {
  it('is high for the ArcFace template', () => {
    const f = frontalness(ARCFACE_TEMPLATE_112);
    expect(f).toBeGreaterThan(0.9);
    expect(f).toBeLessThanOrEqual(1);
  });

  it('is 1 for an exactly symmetric face with the nose half way', () => {
    expect(frontalness(FRONTAL)).toBe(1);
  });

  it('ignores roll, scale and position', () => {
    const f = frontalness(ARCFACE_TEMPLATE_112);
    expect(frontalness(transform(ARCFACE_TEMPLATE_112, rotation(40)))).toBeCloseTo(f, 12);
    expect(frontalness(transform(ARCFACE_TEMPLATE_112, rotation(-40, 3.5, 400, -20)))).toBeCloseTo(f, 12);
    expect(frontalness(transform(FRONTAL, rotation(75, 0.2, 9, 9)))).toBeCloseTo(1, 12);
  });

  it('is low when the nose sits under one eye (yaw)', () => {
    const [le, , nose] = ARCFACE_TEMPLATE_112;
    expect(frontalness(withNose(ARCFACE_TEMPLATE_112, [le[0], nose[1]]))).toBeLessThan(0.2);
    // Rolled by 40° as well: still a profile.
    const rolled = transform(withNose(ARCFACE_TEMPLATE_112, [le[0], nose[1]]), rotation(40));
    expect(frontalness(rolled)).toBeLessThan(0.2);
  });

  it('falls linearly with yaw and pitch (hand-computed)', () => {
    // Nose a quarter eye distance sideways: yaw 0.25 → 1 − 0.25/0.5.
    expect(frontalness(withNose(FRONTAL, [7.5, 5]))).toBeCloseTo(0.5, 12);
    expect(frontalness(withNose(FRONTAL, [2.5, 5]))).toBeCloseTo(0.5, 12);
    // Nose three quarters of the way down to the mouth: pitch 0.75 → 1 − 0.25/0.5.
    expect(frontalness(withNose(FRONTAL, [5, 7.5]))).toBeCloseTo(0.5, 12);
    // Both: the factors multiply.
    expect(frontalness(withNose(FRONTAL, [6.25, 6.25]))).toBeCloseTo(0.75 * 0.75, 12);
    // Nose on the eye line, or at the mouth: pitch score 0.
    expect(frontalness(withNose(FRONTAL, [5, 0]))).toBe(0);
    expect(frontalness(withNose(FRONTAL, [5, 10]))).toBe(0);
  });

  it('is 0 when the mouth is above the eyes, or the eyes coincide', () => {
    const [le, re, nose, lm, rm] = ARCFACE_TEMPLATE_112;
    expect(frontalness([le, re, nose, [lm[0], 20], [rm[0], 20]])).toBe(0);
    // FRONTAL rolled by 180° (its left eye now on the image's right) is still frontal…
    expect(frontalness([[10, 10], [0, 10], [5, 5], [8, 0], [2, 0]])).toBe(1);
    // …but FRONTAL flipped vertically has its mouth above the eyes.
    expect(frontalness([[0, 10], [10, 10], [5, 5], [2, 0], [8, 0]])).toBe(0);
    expect(frontalness([[5, 5], [5, 5], [5, 8], [3, 12], [7, 12]])).toBe(0);
  });
});

describe('faceQuality', () => {
  const boxOfHeight = (h: number): Box => ({ x1: 0, y1: 0, x2: h * 0.8, y2: h });

  it('is score × √(height / 112) × frontalness (hand-computed)', () => {
    expect(faceQuality(boxOfHeight(28), 0.8, FRONTAL)).toBeCloseTo(0.8 * 0.5, 12);
    expect(faceQuality(boxOfHeight(112), 0.8, FRONTAL)).toBeCloseTo(0.8, 12);
    expect(faceQuality(boxOfHeight(56), 1, withNose(FRONTAL, [7.5, 5]))).toBeCloseTo(Math.SQRT1_2 * 0.5, 12);
  });

  it('grows with box size up to 112 px, then stays', () => {
    const q = [10, 30, 60, 90, 112, 150, 400].map((h) => faceQuality(boxOfHeight(h), 0.9, ARCFACE_TEMPLATE_112));
    for (let i = 1; i < 5; i++) expect(q[i]).toBeGreaterThan(q[i - 1]);
    expect(q[5]).toBe(q[4]);
    expect(q[6]).toBe(q[4]);
  });

  it('grows with the detection score', () => {
    const q = [0.1, 0.5, 0.9, 1].map((s) => faceQuality(boxOfHeight(80), s, ARCFACE_TEMPLATE_112));
    for (let i = 1; i < q.length; i++) expect(q[i]).toBeGreaterThan(q[i - 1]);
    expect(q[1] / q[0]).toBeCloseTo(5, 9); // linear in the score
  });

  it('stays in [0, 1] for out-of-range inputs', () => {
    expect(faceQuality(boxOfHeight(500), 1.7, FRONTAL)).toBe(1);
    expect(faceQuality(boxOfHeight(500), -0.3, FRONTAL)).toBe(0);
    expect(faceQuality({ x1: 0, y1: 50, x2: 10, y2: 10 }, 0.9, FRONTAL)).toBe(0); // inverted box
    expect(faceQuality(boxOfHeight(0), 0.9, FRONTAL)).toBe(0);
    for (const h of [1, 20, 112, 1000]) {
      for (const s of [0, 0.5, 1]) {
        const q = faceQuality(boxOfHeight(h), s, ARCFACE_TEMPLATE_112);
        expect(q).toBeGreaterThanOrEqual(0);
        expect(q).toBeLessThanOrEqual(1);
      }
    }
  });

  it('is 0 for a profile face whatever its size and score', () => {
    const [le, , nose] = ARCFACE_TEMPLATE_112;
    expect(faceQuality(boxOfHeight(200), 1, withNose(ARCFACE_TEMPLATE_112, [le[0] - 5, nose[1]]))).toBe(0);
  });
});
