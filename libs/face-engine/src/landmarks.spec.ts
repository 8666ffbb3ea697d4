import { fivePointsFrom68, squareAround } from './landmarks';
import type { Point } from './types';

describe('fivePointsFrom68', () => {
  // Point i = (i, 1000 − 2i) except for the ones we set by hand below.
  const pts: Point[] = Array.from({ length: 68 }, (_, i): Point => [i, 1000 - 2 * i]);
  // Right-of-image eye (42–47) and mouth corners with irregular values.
  pts[42] = [100, 50]; pts[43] = [104, 47]; pts[44] = [110, 46]; pts[45] = [116, 50]; pts[46] = [110, 53]; pts[47] = [104, 54];
  pts[30] = [80.5, 77.25];
  pts[48] = [60, 100]; pts[60] = [64, 98];
  pts[54] = [100, 101]; pts[64] = [96, 97];

  it('takes eye centres, nose tip and mouth corners (hand-computed)', () => {
    const [le, re, nose, lm, rm] = fivePointsFrom68(pts);
    // 36–41: x mean (36 + … + 41) / 6 = 38.5; y mean 1000 − 2·38.5 = 923.
    expect(le[0]).toBeCloseTo(38.5, 12);
    expect(le[1]).toBeCloseTo(923, 12);
    // 42–47: x (100 + 104 + 110 + 116 + 110 + 104) / 6 = 644 / 6; y (50 + 47 + 46 + 50 + 53 + 54) / 6 = 50.
    expect(re[0]).toBeCloseTo(644 / 6, 12);
    expect(re[1]).toBeCloseTo(50, 12);
    expect(nose).toEqual([80.5, 77.25]);
    expect(lm).toEqual([62, 99]);
    expect(rm).toEqual([98, 99]);
  });

  it('uses only the named indices (changing any other point has no effect)', () => {
    const a = fivePointsFrom68(pts);
    const other = pts.map((p, i): Point => ([36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 30, 48, 60, 54, 64].includes(i) ? p : [-1e6, 1e6]));
    expect(fivePointsFrom68(other)).toEqual(a);
    const moved = pts.map((p): Point => [p[0], p[1]]);
    moved[39] = [moved[39][0] + 6, moved[39][1]];
    expect(fivePointsFrom68(moved)[0][0]).toBeCloseTo(38.5 + 1, 12);
  });
});

describe('squareAround', () => {
  it('makes a square of side = box height, on the same centre', () => {
    expect(squareAround({ x1: 10, y1: 20, x2: 50, y2: 80 })).toEqual({ x1: 0, y1: 20, x2: 60, y2: 80 });
    // A wide box gets narrower.
    expect(squareAround({ x1: 0, y1: 0, x2: 100, y2: 40 })).toEqual({ x1: 30, y1: 0, x2: 70, y2: 40 });
    // Already square: unchanged.
    expect(squareAround({ x1: 5, y1: 5, x2: 15, y2: 15 })).toEqual({ x1: 5, y1: 5, x2: 15, y2: 15 });
  });

  it('may reach outside the image (negative coordinates)', () => {
    const s = squareAround({ x1: 0, y1: 0, x2: 10, y2: 30 });
    expect(s).toEqual({ x1: -10, y1: 0, x2: 20, y2: 30 });
  });
});
