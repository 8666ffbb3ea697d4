import type { Box, FivePoints } from './types';

/** Face height (pixels) at which size no longer limits quality: the embedder's own 112 px. */
const FULL_SIZE = 112;

/**
 * A face quality score in [0, 1]: detection confidence × size × frontal-ness. Each factor is
 * in [0, 1], so one bad aspect (a blur-sized face, a profile, a doubtful detection) is enough
 * to pull the score down. Used to pick enrolment faces and to refuse poor ones.
 */
export function faceQuality(box: Box, score: number, points: FivePoints): number {
  const size = Math.min(1, Math.max(0, (box.y2 - box.y1) / FULL_SIZE));
  return clamp01(score) * Math.sqrt(size) * frontalness(points);
}

/**
 * How frontal a face looks from its five points, in [0, 1]. In the frame of the eye line (roll
 * removed): yaw shows as the nose tip leaving the middle between the eyes, pitch as the nose
 * tip moving along the eyes-to-mouth axis away from its frontal position (about half way, as in the ArcFace template).
 */
export function frontalness(points: FivePoints): number {
  const [le, re, nose, lm, rm] = points;
  const ex = re[0] - le[0], ey = re[1] - le[1];
  const eyeDist = Math.hypot(ex, ey);
  if (eyeDist === 0) return 0;
  const ux = ex / eyeDist, uy = ey / eyeDist; // along the eye line
  const eyeMid = [(le[0] + re[0]) / 2, (le[1] + re[1]) / 2];
  const mouthMid = [(lm[0] + rm[0]) / 2, (lm[1] + rm[1]) / 2];
  const nx = nose[0] - eyeMid[0], ny = nose[1] - eyeMid[1];
  const yaw = (nx * ux + ny * uy) / eyeDist; // 0 when frontal, ±0.5 near profile
  const faceHeight = (mouthMid[0] - eyeMid[0]) * -uy + (mouthMid[1] - eyeMid[1]) * ux;
  if (faceHeight <= 0) return 0; // mouth above the eyes: not an upright face
  const pitch = (nx * -uy + ny * ux) / faceHeight;
  const yawScore = clamp01(1 - Math.abs(yaw) / 0.5);
  const pitchScore = clamp01(1 - Math.abs(pitch - 0.5) / 0.5);
  return yawScore * pitchScore;
}

function clamp01(v: number): number {
  return Math.min(1, Math.max(0, v));
}
