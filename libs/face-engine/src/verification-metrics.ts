/**
 * Verification metrics over labelled faces: the similarities of genuine pairs (same label) and of
 * impostor pairs (different labels), the threshold for a target false-accept rate, and the
 * true-accept rate it gives. bench/accuracy and `facepipe calibrate` both use these, so they
 * measure the same thing the same way.
 *
 * A pair is accepted when its similarity is ≥ the threshold: the service's match rule.
 */
import { seededRandom as mulberry32 } from '@facepipe/contracts';

/** Impostor pairs kept when there are more (calibrate's --max-impostors default). */
export const DEFAULT_MAX_IMPOSTORS = 2_000_000;
/** Seed of the impostor sample: the same faces in the same order give the same figures. */
export const IMPOSTOR_SAMPLE_SEED = 42;
/** Thresholds are reported on this grid: short to type, and what a user would store. */
export const THRESHOLD_STEP = 1e-4;
/** An estimate of FAR f wants at least this many / f impostor pairs (ten expected false accepts). */
export const RELIABLE_FALSE_ACCEPTS = 10;

export interface ScoreDistributions {
  /** Similarities of every same-label pair, ascending. */
  genuine: Float64Array;
  /** Similarities of the different-label pairs (all of them, or a sample), ascending. */
  impostor: Float64Array;
  /** How many different-label pairs there are in all. */
  impostorPairs: number;
  /** Whether `impostor` is a sample rather than all the pairs. */
  sampled: boolean;
}

/** Σ n_i(n_i−1)/2 same-label pairs and Σ_{i<j} n_i·n_j different-label pairs. */
export function countPairs(labels: readonly string[]): { genuine: number; impostor: number } {
  const sizes = new Map<string, number>();
  for (const l of labels) sizes.set(l, (sizes.get(l) ?? 0) + 1);
  let genuine = 0;
  for (const n of sizes.values()) genuine += (n * (n - 1)) / 2;
  const n = labels.length;
  return { genuine, impostor: n < 2 ? 0 : (n * (n - 1)) / 2 - genuine };
}

/**
 * Similarities of all genuine pairs and of the impostor pairs. When there are more than
 * `maxImpostors` impostor pairs, a sample of exactly `maxImpostors`: pairs (a, b) drawn uniformly
 * with replacement from all ordered pairs of items, seeded (mulberry32), and kept when their labels
 * differ. Deterministic for the same labels in the same order.
 */
export function scoreDistributions(
  labels: readonly string[],
  similarity: (a: number, b: number) => number,
  options: { maxImpostors?: number; seed?: number } = {},
): ScoreDistributions {
  const maxImpostors = options.maxImpostors ?? DEFAULT_MAX_IMPOSTORS;
  const counts = countPairs(labels);
  const genuine = new Float64Array(counts.genuine);
  const sampled = counts.impostor > maxImpostors;
  const impostor = new Float64Array(sampled ? maxImpostors : counts.impostor);

  let g = 0, im = 0;
  const byLabel = new Map<string, number[]>();
  labels.forEach((l, i) => {
    const idx = byLabel.get(l);
    if (idx) idx.push(i);
    else byLabel.set(l, [i]);
  });
  for (const idx of byLabel.values()) {
    for (let a = 0; a < idx.length; a++) for (let b = a + 1; b < idx.length; b++) genuine[g++] = similarity(idx[a], idx[b]);
  }
  if (sampled) {
    const rand = mulberry32(options.seed ?? IMPOSTOR_SAMPLE_SEED);
    while (im < impostor.length) {
      const a = Math.floor(rand() * labels.length), b = Math.floor(rand() * labels.length);
      if (labels[a] !== labels[b]) impostor[im++] = similarity(a, b);
    }
  } else {
    for (let a = 0; a < labels.length; a++) {
      for (let b = a + 1; b < labels.length; b++) if (labels[a] !== labels[b]) impostor[im++] = similarity(a, b);
    }
  }
  return { genuine: genuine.sort(), impostor: impostor.sort(), impostorPairs: counts.impostor, sampled };
}

/** How many of the ascending `scores` are ≥ `threshold` (accepted). */
export function acceptedCount(scores: Float64Array, threshold: number): number {
  let lo = 0, hi = scores.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (scores[mid] < threshold) lo = mid + 1;
    else hi = mid;
  }
  return scores.length - lo;
}

/**
 * The smallest threshold on the THRESHOLD_STEP grid whose FAR ≤ `targetFar`, where FAR(t) is the
 * share of the impostor scores ≥ t. With k = ⌊target·N⌋ false accepts allowed, that is the first
 * grid point strictly above the (k+1)-th highest impostor score; impostors tied with that score are
 * all rejected, so the FAR reached can be below the target. null when no threshold in [−1, 1]
 * reaches it (impostor pairs scoring ≥ 1: the same photo under two labels), or with no impostors.
 */
export function thresholdForFar(impostorAscending: Float64Array, targetFar: number): number | null {
  const n = impostorAscending.length;
  if (n === 0) return null;
  // The tolerance keeps 1e-3 × 2,000,000 at 2,000 despite binary rounding.
  const allowed = Math.floor(targetFar * n + 1e-9);
  if (allowed >= n) return -1;
  const boundary = impostorAscending[n - 1 - allowed];
  let g = Math.floor(boundary / THRESHOLD_STEP) + 1;
  // g / 1e4 is the double closest to the decimal a user reads; step to the right grid point exactly.
  while (g / 1e4 <= boundary) g++;
  while ((g - 1) / 1e4 > boundary) g--;
  const t = g / 1e4;
  if (t > 1) return null;
  return Math.max(-1, t);
}

export interface OperatingPoint {
  /** The threshold (a pair is accepted when similarity ≥ it); null when none reaches the target. */
  threshold: number | null;
  /** Impostor pairs accepted at the threshold, and their share. */
  falseAccepts: number;
  far: number;
  /** Genuine pairs accepted at the threshold, and their share. */
  trueAccepts: number;
  tar: number;
}

/** FAR and TAR at a given threshold. */
export function operatingPointAt(d: ScoreDistributions, threshold: number): OperatingPoint {
  const falseAccepts = acceptedCount(d.impostor, threshold);
  const trueAccepts = acceptedCount(d.genuine, threshold);
  return {
    threshold,
    falseAccepts,
    far: d.impostor.length ? falseAccepts / d.impostor.length : 0,
    trueAccepts,
    tar: d.genuine.length ? trueAccepts / d.genuine.length : 0,
  };
}

export interface FarOperatingPoint extends OperatingPoint {
  targetFar: number;
  /** Enough impostor pairs for the estimate: at least RELIABLE_FALSE_ACCEPTS / targetFar. */
  reliable: boolean;
}

/** The threshold for `targetFar` (thresholdForFar) and what it gives. */
export function operatingPointForFar(d: ScoreDistributions, targetFar: number): FarOperatingPoint {
  const threshold = thresholdForFar(d.impostor, targetFar);
  const reliable = d.impostor.length * targetFar >= RELIABLE_FALSE_ACCEPTS - 1e-9;
  if (threshold === null) return { targetFar, reliable, threshold, falseAccepts: 0, far: 0, trueAccepts: 0, tar: 0 };
  return { targetFar, reliable, ...operatingPointAt(d, threshold) };
}

