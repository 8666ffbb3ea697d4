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
 * Drops detections that lie mostly inside a better one (more than `maxInside` of their area):
 * the part-of-a-face boxes that a fine tiled pass finds in a face that a coarser pass saw whole,
 * which plain IoU does not catch because the two boxes differ so much in size.
 */
export function suppressContained<T extends Detection>(detections: readonly T[], maxInside: number): T[] {
  const kept: T[] = [];
  for (const d of [...detections].sort((a, b) => b.score - a.score || boxArea(b.box) - boxArea(a.box))) {
    const area = boxArea(d.box);
    const inside = kept.some((k) => intersection(k.box, d.box) > maxInside * Math.min(area, boxArea(k.box)));
    if (!inside) kept.push(d);
  }
  return kept;
}

function intersection(a: Box, b: Box): number {
  const iw = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const ih = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  return iw > 0 && ih > 0 ? iw * ih : 0;
}
