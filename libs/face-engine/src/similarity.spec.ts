import { cosineSimilarity, dot, l2Normalize } from './similarity';

describe('dot', () => {
  it('sums the products', () => {
    expect(dot([1, 2, 3], [4, -5, 6])).toBe(4 - 10 + 18);
    expect(dot(Float32Array.from([0.5, 2]), [4, 0.25])).toBe(2.5);
  });

  it('throws for vectors of different lengths', () => {
    expect(() => dot([1, 2], [1, 2, 3])).toThrow('vector lengths differ: 2 vs 3');
  });
});

describe('cosineSimilarity', () => {
  it('is 1 for parallel vectors', () => {
    expect(cosineSimilarity([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 12);
  });

  it('never leaves [−1, 1] by rounding (a vector compared with itself)', () => {
    const v = [0.1071735086120853, 0.7192277416418125, 0.6656949562500052, 0.48729579839494575, 0.28436215134212617, 0.5113345042670163];
    expect(dot(v, v) / (Math.sqrt(dot(v, v)) * Math.sqrt(dot(v, v)))).toBeGreaterThan(1); // unclamped, it rounds above 1
    expect(cosineSimilarity(v, v)).toBe(1);
    expect(cosineSimilarity(v, v.map((x) => -x))).toBe(-1);
  });

  it('is 0 for orthogonal vectors', () => {
    expect(cosineSimilarity([1, 0], [0, 3])).toBe(0);
    expect(cosineSimilarity([1, 1, 0], [1, -1, 5])).toBe(0);
  });

  it('is −1 for opposite vectors', () => {
    expect(cosineSimilarity([1, -2, 0.5], [-3, 6, -1.5])).toBeCloseTo(-1, 12);
  });

  it('matches a hand-computed value', () => {
    // [1, 0] and [1, 1]: cos 45°.
    expect(cosineSimilarity([1, 0], [1, 1])).toBeCloseTo(Math.SQRT1_2, 12);
    // [3, 4] · [4, 3] = 24; both norms 5.
    expect(cosineSimilarity([3, 4], [4, 3])).toBeCloseTo(24 / 25, 12);
  });

  it('is invariant to positive scaling of either vector, and flips sign under negation', () => {
    const a = [0.3, -1.2, 2.5, 0.1], b = [1.1, 0.4, -0.7, 2.2];
    const c = cosineSimilarity(a, b);
    expect(c).not.toBeCloseTo(0, 3);
    expect(cosineSimilarity(a.map((v) => v * 7.5), b)).toBeCloseTo(c, 12);
    expect(cosineSimilarity(a, b.map((v) => v * 1e-3))).toBeCloseTo(c, 12);
    expect(cosineSimilarity(a.map((v) => -v), b)).toBeCloseTo(-c, 12);
  });

  it('is plain cosine, not mean-centred (the reference JS bug)', () => {
    // Centring each vector on its mean would give [−0.5, 0.5] and [0.5, −0.5], i.e. −1.
    expect(cosineSimilarity([1, 2], [2, 1])).toBeCloseTo(0.8, 12);
  });

  it('is 0 when either vector is zero', () => {
    expect(cosineSimilarity([0, 0, 0], [1, 2, 3])).toBe(0);
    expect(cosineSimilarity([1, 2, 3], [0, 0, 0])).toBe(0);
    expect(cosineSimilarity([0, 0], [0, 0])).toBe(0);
  });

  it('throws for mismatched lengths', () => {
    expect(() => cosineSimilarity([1, 2, 3], [1, 2])).toThrow(/lengths differ/);
  });

  it('equals the dot product for unit vectors', () => {
    const a = l2Normalize(Float32Array.from([1, 2, 3, 4])), b = l2Normalize(Float32Array.from([4, -1, 0, 2]));
    expect(cosineSimilarity(a, b)).toBeCloseTo(dot(a, b), 6);
    expect(dot(a, b)).toBeCloseTo((4 - 2 + 0 + 8) / (Math.sqrt(30) * Math.sqrt(21)), 6);
  });
});

describe('l2Normalize', () => {
  it('scales to unit norm, in place, keeping the direction', () => {
    const v = Float32Array.from([3, 4]);
    const out = l2Normalize(v);
    expect(out).toBe(v);
    expect(v[0]).toBeCloseTo(0.6, 6);
    expect(v[1]).toBeCloseTo(0.8, 6);
    const w = l2Normalize(Float32Array.from([1, -2, 3, -4, 5, 100]));
    expect(Math.sqrt(dot(w, w))).toBeCloseTo(1, 6);
    expect(w[5] / w[0]).toBeCloseTo(100, 4);
  });

  it('leaves a zero vector zero (no NaN)', () => {
    expect(Array.from(l2Normalize(new Float32Array(4)))).toEqual([0, 0, 0, 0]);
  });
});
