import { seededRandom as mulberry32 } from '@facepipe/contracts';
import {
  acceptedCount,
  countPairs,
  operatingPointAt,
  operatingPointForFar,
  scoreDistributions,
  thresholdForFar,
} from './verification-metrics';

const asc = (xs: number[]) => Float64Array.from(xs).sort();

describe('countPairs', () => {
  it('counts Σ n(n−1)/2 genuine and the rest as impostor pairs', () => {
    // Sizes 3, 2, 1: genuine 3 + 1 = 4; all pairs C(6, 2) = 15; impostors 11 = 3·2 + 3·1 + 2·1.
    expect(countPairs(['a', 'b', 'a', 'c', 'a', 'b'])).toEqual({ genuine: 4, impostor: 11 });
    expect(countPairs([])).toEqual({ genuine: 0, impostor: 0 });
  });
});

describe('scoreDistributions', () => {
  const labels = ['a', 'b', 'a', 'c', 'a', 'b'];
  const sim = (i: number, j: number) => Math.min(i, j) * 10 + Math.max(i, j); // names the pair

  it('enumerates every pair when the impostors fit', () => {
    const d = scoreDistributions(labels, sim, { maxImpostors: 11 });
    expect(d.sampled).toBe(false);
    expect(d.impostorPairs).toBe(11);
    expect([...d.genuine]).toEqual([2, 4, 15, 24]); // a: (0,2) (0,4) (2,4); b: (1,5)
    expect([...d.impostor]).toEqual([1, 3, 5, 12, 13, 14, 23, 25, 34, 35, 45]);
  });

  it('samples exactly maxImpostors different-label pairs, the same ones every time', () => {
    const d = scoreDistributions(labels, sim, { maxImpostors: 7 });
    expect(d.sampled).toBe(true);
    expect(d.impostorPairs).toBe(11);
    expect(d.impostor).toHaveLength(7);
    const impostors = new Set([1, 3, 5, 12, 13, 14, 23, 25, 34, 35, 45]);
    for (const s of d.impostor) expect(impostors.has(s)).toBe(true);
    expect(scoreDistributions(labels, sim, { maxImpostors: 7 }).impostor).toEqual(d.impostor);
    expect(scoreDistributions(labels, sim, { maxImpostors: 7, seed: 1 }).impostor).not.toEqual(d.impostor);
  });

  it('has no impostors with a single label (and does not loop forever)', () => {
    const d = scoreDistributions(['a', 'a', 'a'], () => 0.5, { maxImpostors: 0 });
    expect(d.impostor).toHaveLength(0);
    expect(d.genuine).toHaveLength(3);
  });
});

describe('thresholdForFar', () => {
  // 1,000 impostors at 0.000, 0.001, …, 0.999.
  const thousand = asc(Array.from({ length: 1000 }, (_, i) => i / 1000));

  it('is the first grid point above the (k+1)-th highest impostor', () => {
    // FAR 1e-2 allows 10 false accepts: 0.990…0.999. The 11th highest, 0.989, must be rejected.
    expect(thresholdForFar(thousand, 1e-2)).toBe(0.9891);
    expect(acceptedCount(thousand, 0.9891)).toBe(10);
    expect(acceptedCount(thousand, 0.989)).toBe(11); // one grid step lower is too many
    expect(thresholdForFar(thousand, 1e-3)).toBe(0.9981);
  });

  it('rejects every impostor tied at the boundary, so the FAR reached may be below target', () => {
    // Ten impostors, four tied at 0.5 in places 2..5 from the top; FAR 0.3 allows 3.
    const scores = asc([0.9, 0.5, 0.5, 0.5, 0.5, 0.2, 0.1, 0, -0.1, -0.2]);
    const t = thresholdForFar(scores, 0.3)!;
    expect(t).toBe(0.5001);
    expect(acceptedCount(scores, t)).toBe(1);
  });

  it('lands on an exact grid value when the boundary is one', () => {
    const scores = asc([0.3351, 0.2, 0.1, 0]);
    const t = thresholdForFar(scores, 0.25)!; // one false accept: the 2nd highest (0.2) rejected
    expect(t).toBe(0.2001);
    expect(thresholdForFar(scores, 0.1)).toBe(0.3352); // none: 0.3351 itself must be rejected
  });

  it('goes above the highest impostor when the target is under 1/N', () => {
    expect(thresholdForFar(thousand, 1e-4)).toBe(0.9991);
    expect(acceptedCount(thousand, 0.9991)).toBe(0);
  });

  it('is null when no threshold in [−1, 1] reaches the target, or with no impostors', () => {
    expect(thresholdForFar(asc([1, 1, 0.2]), 0.1)).toBeNull();
    expect(thresholdForFar(new Float64Array(0), 0.1)).toBeNull();
  });

  it('counts target × N false accepts exactly despite binary rounding', () => {
    // 0.001 × 2,000,000 is 2,000 only up to rounding; the 2,000 highest must be allowed.
    const n = 2_000_000;
    const scores = new Float64Array(n);
    for (let i = 0; i < n; i++) scores[i] = i / n;
    const t = thresholdForFar(scores, 1e-3)!;
    expect(acceptedCount(scores, t)).toBeLessThanOrEqual(2000);
    expect(acceptedCount(scores, t - 1e-4)).toBeGreaterThan(2000);
  });
});

describe('operatingPointForFar', () => {
  const rand = mulberry32(3);
  const d = scoreDistributions(
    Array.from({ length: 300 }, (_, i) => `id${i % 30}`),
    (a, b) => ((a % 30) === (b % 30) ? 0.5 : 0) + rand() * 0.5,
  );

  it('reports FAR ≤ target and the TAR at the threshold it found', () => {
    const p = operatingPointForFar(d, 1e-2);
    expect(p.threshold).not.toBeNull();
    expect(p.far).toBeLessThanOrEqual(1e-2);
    expect(p.falseAccepts).toBe(acceptedCount(d.impostor, p.threshold!));
    expect(p.trueAccepts).toBe(acceptedCount(d.genuine, p.threshold!));
    expect(p.tar).toBeCloseTo(p.trueAccepts / d.genuine.length, 12);
    expect(operatingPointAt(d, p.threshold! - 1e-4).far).toBeGreaterThan(1e-2);
  });

  it('is reliable only with at least 10/FAR impostor pairs', () => {
    expect(d.impostor.length).toBe(44_850 - 1_350); // C(300,2) − 30·C(10,2)
    expect(operatingPointForFar(d, 1e-3).reliable).toBe(true); // 43,500 ≥ 10,000
    expect(operatingPointForFar(d, 1e-4).reliable).toBe(false); // 43,500 < 100,000
  });
});
