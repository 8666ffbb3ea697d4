import type { Box, Detection } from './types';

export function boxArea(b: Box): number {
  return Math.max(0, b.x2 - b.x1) * Math.max(0, b.y2 - b.y1);
}

/** Intersection over union of two boxes (0 when either is empty). */
export function iou(a: Box, b: Box): number {
  const inter = intersection(a, b);
  return inter === 0 ? 0 : inter / (boxArea(a) + boxArea(b) - inter);
}

/**
 * Greedy non-maximum suppression: keeps the highest-scoring detection of every group of boxes
 * overlapping by more than `iouThreshold`. Returns survivors sorted by descending score.
 */
export function nms<T extends Detection>(detections: readonly T[], iouThreshold: number): T[] {
  const sorted = [...detections].sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  for (const d of sorted) {
    if (kept.every((k) => iou(k.box, d.box) <= iouThreshold)) kept.push(d);
  }
  return kept;
}

/**
 * Drops detections that lie mostly inside a bigger one (more than `maxInside` of their own area):
 * the part-of-a-face boxes that a fine tiled pass finds in a face that a coarser pass saw whole,
 * which plain IoU does not catch because the two boxes differ so much in size. Two real faces
 * never overlap that much, so the bigger box wins whatever the scores.
 */
export function suppressContained<T extends Detection>(detections: readonly T[], maxInside: number): T[] {
  const kept: T[] = [];
  const bySize = [...detections].sort((a, b) => boxArea(b.box) - boxArea(a.box) || b.score - a.score);
  for (const d of bySize) {
    const area = boxArea(d.box);
    if (!kept.some((k) => intersection(k.box, d.box) > maxInside * area)) kept.push(d);
  }
  return kept.sort((a, b) => b.score - a.score);
}

function intersection(a: Box, b: Box): number {
  const iw = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const ih = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  return iw > 0 && ih > 0 ? iw * ih : 0;
}
