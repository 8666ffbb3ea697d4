import { boxArea, iou, nms, suppressContained } from './nms';
import type { Box, Detection } from './types';

const box = (x1: number, y1: number, x2: number, y2: number): Box => ({ x1, y1, x2, y2 });
const det = (b: Box, score: number, id = ''): Detection & { id: string } => ({ box: b, score, id });

describe('boxArea', () => {
  it('is width × height, and 0 for inverted boxes', () => {
    expect(boxArea(box(1, 2, 11, 7))).toBe(50);
    expect(boxArea(box(10, 0, 0, 10))).toBe(0);
    expect(boxArea(box(0, 10, 10, 0))).toBe(0);
  });
});

describe('iou', () => {
  it('is 0 for disjoint boxes and for boxes that only touch', () => {
    expect(iou(box(0, 0, 10, 10), box(20, 20, 30, 30))).toBe(0);
    expect(iou(box(0, 0, 10, 10), box(10, 0, 20, 10))).toBe(0);
    expect(iou(box(0, 0, 10, 10), box(0, 10, 10, 20))).toBe(0);
  });

  it('is 1 for identical boxes', () => {
    expect(iou(box(3, 4, 13, 24), box(3, 4, 13, 24))).toBe(1);
  });

  it('matches hand-computed values', () => {
    // Half overlap: intersection 5×10 = 50, union 100 + 100 − 50 = 150.
    expect(iou(box(0, 0, 10, 10), box(5, 0, 15, 10))).toBeCloseTo(50 / 150, 12);
    // Quarter-corner overlap: intersection 5×5 = 25, union 200 − 25 = 175.
    expect(iou(box(0, 0, 10, 10), box(5, 5, 15, 15))).toBeCloseTo(25 / 175, 12);
    // Containment: a 4×4 box inside a 10×10 box: 16 / 100.
    expect(iou(box(0, 0, 10, 10), box(2, 2, 6, 6))).toBeCloseTo(0.16, 12);
    // Different sizes: 10×10 and 20×5 overlapping in 10×5 = 50; union 100 + 100 − 50.
    expect(iou(box(0, 0, 10, 10), box(0, 5, 20, 10))).toBeCloseTo(50 / 150, 12);
  });

  it('is symmetric', () => {
    const a = box(1, 2, 9, 14), b = box(4, -3, 12, 8);
    expect(iou(a, b)).toBe(iou(b, a));
    // Overlap x 4..9 = 5, y 2..8 = 6 → 30 / (8·12 + 8·11 − 30).
    expect(iou(a, b)).toBeCloseTo(30 / 154, 12);
  });

  it('is 0 when one box is empty', () => {
    expect(iou(box(0, 0, 10, 10), box(5, 5, 5, 5))).toBe(0);
  });
});

describe('nms', () => {
  it('keeps the best of overlapping boxes', () => {
    const kept = nms([det(box(0, 0, 10, 10), 0.8, 'a'), det(box(1, 1, 11, 11), 0.9, 'b'), det(box(0, 1, 10, 11), 0.85, 'c')], 0.4);
    expect(kept.map((d) => d.id)).toEqual(['b']);
  });

  it('keeps non-overlapping boxes, sorted by descending score', () => {
    const kept = nms([
      det(box(0, 0, 10, 10), 0.5, 'a'),
      det(box(100, 0, 110, 10), 0.95, 'b'),
      det(box(0, 100, 10, 110), 0.7, 'c'),
      det(box(2, 0, 12, 10), 0.6, 'a2'), // IoU with a = 80/120 > 0.4: beats a
    ], 0.4);
    expect(kept.map((d) => d.id)).toEqual(['b', 'c', 'a2']);
    expect(kept.map((d) => d.score)).toEqual([0.95, 0.7, 0.6]);
  });

  it('suppresses only above the threshold (IoU equal to it survives)', () => {
    const a = det(box(0, 0, 10, 10), 0.9, 'a'), b = det(box(5, 0, 15, 10), 0.8, 'b'); // IoU 1/3
    expect(nms([a, b], 1 / 3).map((d) => d.id)).toEqual(['a', 'b']);
    expect(nms([a, b], 0.3).map((d) => d.id)).toEqual(['a']);
  });

  it('is greedy: a box suppressed by the best does not itself suppress', () => {
    // b overlaps a and c heavily; a and c barely overlap. Greedy keeps a, drops b, keeps c.
    const a = det(box(0, 0, 10, 10), 0.9, 'a');
    const b = det(box(3, 0, 13, 10), 0.8, 'b'); // IoU(a, b) = 70/130
    const c = det(box(7, 0, 17, 10), 0.7, 'c'); // IoU(b, c) = 60/140, IoU(a, c) = 30/170
    expect(nms([c, b, a], 0.4).map((d) => d.id)).toEqual(['a', 'c']);
  });

  it('returns the same objects, and does not modify its input', () => {
    const input = [det(box(0, 0, 1, 1), 0.1), det(box(5, 5, 6, 6), 0.9)];
    const copy = [...input];
    const kept = nms(input, 0.5);
    expect(input).toEqual(copy);
    expect(kept[0]).toBe(input[1]);
    expect(nms([], 0.5)).toEqual([]);
  });
});

describe('suppressContained', () => {
  it('drops a small box lying inside a bigger, better one', () => {
    const kept = suppressContained([det(box(10, 50, 60, 95), 0.9, 'part'), det(box(0, 0, 100, 100), 0.99, 'face')], 0.6);
    expect(kept.map((d) => d.id)).toEqual(['face']);
  });

  it('keeps side-by-side faces that overlap a little', () => {
    // Overlap 10×100 = 1000, i.e. 10% of either box.
    const kept = suppressContained([det(box(0, 0, 100, 100), 0.99, 'left'), det(box(90, 0, 190, 100), 0.95, 'right')], 0.6);
    expect(kept.map((d) => d.id)).toEqual(['left', 'right']);
  });

  it('uses the share of the smaller box: more than maxInside drops it, at most maxInside keeps it', () => {
    const big = det(box(0, 0, 100, 100), 0.99, 'big');
    // 20×10 box, 70% inside the big one (x 86..100 of 86..106) → dropped at 0.6.
    const mostlyIn = det(box(86, 0, 106, 10), 0.9, 'mostlyIn');
    // 20×10 box, exactly 60% inside (x 88..100 of 88..108) → kept at 0.6.
    const partlyIn = det(box(88, 50, 108, 60), 0.9, 'partlyIn');
    expect(suppressContained([big, mostlyIn, partlyIn], 0.6).map((d) => d.id)).toEqual(['big', 'partlyIn']);
  });

  it('prefers the larger box on equal scores, and outputs best first', () => {
    const kept = suppressContained([
      det(box(20, 20, 40, 40), 0.9, 'inner'),
      det(box(300, 300, 340, 340), 0.95, 'other'),
      det(box(0, 0, 100, 100), 0.9, 'outer'),
    ], 0.6);
    expect(kept.map((d) => d.id)).toEqual(['other', 'outer']);
  });

  it('does not modify its input', () => {
    const input = [det(box(0, 0, 10, 10), 0.5), det(box(1, 1, 5, 5), 0.9)];
    const copy = [...input];
    suppressContained(input, 0.6);
    expect(input).toEqual(copy);
  });
});
