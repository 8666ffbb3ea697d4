import { planTiles, type Tile, type TilingOptions } from './tiling';

const DEFAULTS: TilingOptions = { minFaceSize: 32, smallFace: 20, largeFace: 48, maxTiles: 256 };
const NET_W = 320, NET_H = 240;

const levelOf = (tiles: Tile[], level: number) => tiles.filter((t) => t.level === level);
const uniqueSorted = (v: number[]) => [...new Set(v)].sort((a, b) => a - b);

describe('planTiles: an image that fits the network', () => {
  it.each([
    [300, 200],
    [320, 240],
    [100, 60],
  ])('%i×%i gives one level-0 tile over the whole image', (w, h) => {
    const tiles = planTiles(w, h, NET_W, NET_H, DEFAULTS);
    expect(tiles).toHaveLength(1);
    const [t] = tiles;
    expect(t.level).toBe(0);
    expect(t.scale).toBeCloseTo(Math.min(NET_W / w, NET_H / h), 12);
    expect(t.region).toEqual({ x1: 0, y1: 0, x2: w, y2: h });
    expect(t.minFace).toBe(0);
    expect(t.maxFace).toBe(Infinity);
    expect(t.innerEdges).toEqual({ left: false, top: false, right: false, bottom: false });
  });

  it('stops at level 0 when minFaceSize already reaches smallFace there', () => {
    // s0 = 0.8 and 32 · 0.8 = 25.6 ≥ 20.
    const tiles = planTiles(400, 300, NET_W, NET_H, DEFAULTS);
    expect(tiles).toHaveLength(1);
    expect(tiles[0].scale).toBeCloseTo(0.8, 12);
    expect(tiles[0].minFace).toBe(0);
  });

  it('never goes past native resolution (scale 1) beyond level 0', () => {
    // s0 = min(320/600, 240/450) = 0.5333…; 32·s0 = 17 < 20, so one more level, at min(1, 1.0667) = 1.
    const tiles = planTiles(600, 450, NET_W, NET_H, DEFAULTS);
    expect(uniqueSorted(tiles.map((t) => t.scale))).toEqual([320 / 600, 1]);
    const l1 = levelOf(tiles, 1);
    // 320×240 tiles overlapping by 48: x at 0, 140, 280 (step (600 − 320)/2), y at 0, 105, 210.
    expect(uniqueSorted(l1.map((t) => t.region.x1))).toEqual([0, 140, 280]);
    expect(uniqueSorted(l1.map((t) => t.region.y1))).toEqual([0, 105, 210]);
    expect(l1.every((t) => t.region.x2 - t.region.x1 === 320 && t.region.y2 - t.region.y1 === 240)).toBe(true);
  });

  it('stops at scale 1 even when minFaceSize could never reach smallFace', () => {
    // 8-px faces would need 2.5× upsampling to reach 20 network pixels: the plan stops at 1:1.
    const tiles = planTiles(600, 450, NET_W, NET_H, { ...DEFAULTS, minFaceSize: 8 });
    expect(uniqueSorted(tiles.map((t) => t.scale))).toEqual([320 / 600, 1]);
    expect(tiles).toHaveLength(1 + 9);
  });
});

describe('planTiles: 1920×1280 on a 320×240 network with the default options', () => {
  const W = 1920, H = 1280;
  const tiles = planTiles(W, H, NET_W, NET_H, DEFAULTS);

  it('plans levels at scales 1/6, 1/3, 2/3 (s0 = min(320/1920, 240/1280), doubling)', () => {
    expect(uniqueSorted(tiles.map((t) => t.level))).toEqual([0, 1, 2]);
    for (const [level, scale] of [[0, 1 / 6], [1, 1 / 3], [2, 2 / 3]]) {
      expect(levelOf(tiles, level).every((t) => Math.abs(t.scale - scale) < 1e-12)).toBe(true);
    }
    // Stop rule: 32 · 2/3 = 21.3 ≥ 20, while 32 · 1/3 = 10.7 < 20.
    expect(tiles.map((t) => t.level)).toEqual([...tiles.map((t) => t.level)].sort((a, b) => a - b));
  });

  it('has 1 + 3×2 + 5×5 tiles at the expected origins', () => {
    expect(levelOf(tiles, 0)).toHaveLength(1);
    expect(levelOf(tiles, 0)[0].region).toEqual({ x1: 0, y1: 0, x2: W, y2: H });
    // Level 1: 960×720 source-pixel tiles, overlap 48·3 = 144 → 3 columns step 480, 2 rows step 560.
    const l1 = levelOf(tiles, 1);
    expect(l1).toHaveLength(6);
    expect(uniqueSorted(l1.map((t) => t.region.x1))).toEqual([0, 480, 960]);
    expect(uniqueSorted(l1.map((t) => t.region.y1))).toEqual([0, 560]);
    // Level 2: 480×360 tiles, overlap 72 → 5 columns step 360, 5 rows step 230.
    const l2 = levelOf(tiles, 2);
    expect(l2).toHaveLength(25);
    expect(uniqueSorted(l2.map((t) => t.region.x1))).toEqual([0, 360, 720, 1080, 1440]);
    expect(uniqueSorted(l2.map((t) => t.region.y1))).toEqual([0, 230, 460, 690, 920]);
    expect(tiles).toHaveLength(32);
  });

  it('makes every tile no bigger than the network input at its scale', () => {
    for (const t of tiles) {
      expect((t.region.x2 - t.region.x1) * t.scale).toBeLessThanOrEqual(NET_W + 1e-6);
      expect((t.region.y2 - t.region.y1) * t.scale).toBeLessThanOrEqual(NET_H + 1e-6);
    }
    // Tiled levels use the full network input.
    for (const t of [...levelOf(tiles, 1), ...levelOf(tiles, 2)]) {
      expect((t.region.x2 - t.region.x1) * t.scale).toBeCloseTo(NET_W, 6);
      expect((t.region.y2 - t.region.y1) * t.scale).toBeCloseTo(NET_H, 6);
    }
  });

  it.each([1, 2])('covers the whole image at level %i, neighbours overlapping by ≥ largeFace/scale', (level) => {
    const ts = levelOf(tiles, level);
    const overlap = DEFAULTS.largeFace / ts[0].scale;
    for (const axis of ['x', 'y'] as const) {
      const lo = axis === 'x' ? 'x1' : 'y1', hi = axis === 'x' ? 'x2' : 'y2';
      const size = axis === 'x' ? W : H;
      // One row/column of tiles: distinct [start, end) spans, sorted.
      const spans = uniqueSorted(ts.map((t) => t.region[lo])).map((s) => ts.find((t) => t.region[lo] === s)!.region);
      expect(spans[0][lo]).toBe(0);
      expect(spans[spans.length - 1][hi]).toBe(size);
      for (let i = 1; i < spans.length; i++) {
        expect(spans[i - 1][hi] - spans[i][lo]).toBeGreaterThanOrEqual(overlap - 1e-9);
      }
    }
    // A full grid: every (x, y) origin pair is present once.
    const xs = uniqueSorted(ts.map((t) => t.region.x1)), ys = uniqueSorted(ts.map((t) => t.region.y1));
    expect(ts).toHaveLength(xs.length * ys.length);
    // Sample points all over the image lie in some tile.
    for (let y = 0; y < H; y += 37) {
      for (let x = 0; x < W; x += 41) {
        expect(ts.some((t) => t.region.x1 <= x && x < t.region.x2 && t.region.y1 <= y && y < t.region.y2)).toBe(true);
      }
    }
  });

  it('flags only the edges that lie inside the image', () => {
    const l2 = levelOf(tiles, 2);
    const at = (x1: number, y1: number) => l2.find((t) => t.region.x1 === x1 && t.region.y1 === y1)!;
    expect(at(0, 0).innerEdges).toEqual({ left: false, top: false, right: true, bottom: true });
    expect(at(1440, 0).innerEdges).toEqual({ left: true, top: false, right: false, bottom: true });
    expect(at(0, 920).innerEdges).toEqual({ left: false, top: true, right: true, bottom: false });
    expect(at(1440, 920).innerEdges).toEqual({ left: true, top: true, right: false, bottom: false });
    expect(at(720, 0).innerEdges).toEqual({ left: true, top: false, right: true, bottom: true }); // top edge
    expect(at(0, 460).innerEdges).toEqual({ left: false, top: true, right: true, bottom: true }); // left edge
    expect(at(720, 460).innerEdges).toEqual({ left: true, top: true, right: true, bottom: true }); // interior
    // Every flag agrees with the region touching the image border or not.
    for (const t of tiles) {
      expect(t.innerEdges).toEqual({ left: t.region.x1 > 0, top: t.region.y1 > 0, right: t.region.x2 < W, bottom: t.region.y2 < H });
    }
    expect(levelOf(tiles, 0)[0].innerEdges).toEqual({ left: false, top: false, right: false, bottom: false });
  });

  it('gives the finest level minFace 0, the others smallFace; level 0 has no upper bound, the others largeFace', () => {
    expect(levelOf(tiles, 0).every((t) => t.minFace === 20 && t.maxFace === Infinity)).toBe(true);
    expect(levelOf(tiles, 1).every((t) => t.minFace === 20 && t.maxFace === 48)).toBe(true);
    expect(levelOf(tiles, 2).every((t) => t.minFace === 0 && t.maxFace === 48)).toBe(true);
  });
});

describe('planTiles: the maxTiles cap', () => {
  const plan = (maxTiles: number) => planTiles(1920, 1280, NET_W, NET_H, { ...DEFAULTS, maxTiles });

  it('keeps all levels when the budget allows exactly', () => {
    expect(plan(32)).toHaveLength(32);
  });

  it('drops the finest level first, and the new finest level gets minFace 0', () => {
    const tiles = plan(31);
    expect(tiles).toHaveLength(7);
    expect(uniqueSorted(tiles.map((t) => t.level))).toEqual([0, 1]);
    expect(levelOf(tiles, 1).every((t) => t.minFace === 0 && t.maxFace === 48)).toBe(true);
    expect(levelOf(tiles, 0)[0].minFace).toBe(20);
    expect(plan(7)).toHaveLength(7);
  });

  it('falls back to the single whole-image pass, which then keeps every face size', () => {
    for (const maxTiles of [6, 1]) {
      const tiles = plan(maxTiles);
      expect(tiles).toHaveLength(1);
      expect(tiles[0]).toMatchObject({ level: 0, minFace: 0, maxFace: Infinity, region: { x1: 0, y1: 0, x2: 1920, y2: 1280 } });
    }
  });
});

describe('planTiles: geometry holds over many image sizes', () => {
  it('every tile fits the network input and starts inside the image', () => {
    for (const [w, h] of [[1000, 667], [4032, 3024], [3024, 4032], [6000, 4000], [2592, 1944], [785, 1273], [5000, 300]]) {
      const tiles = planTiles(w, h, NET_W, NET_H, DEFAULTS);
      expect(tiles[0].region).toEqual({ x1: 0, y1: 0, x2: w, y2: h });
      for (const t of tiles) {
        expect((t.region.x2 - t.region.x1) * t.scale).toBeLessThanOrEqual(NET_W + 1e-6);
        expect((t.region.y2 - t.region.y1) * t.scale).toBeLessThanOrEqual(NET_H + 1e-6);
        expect(t.region.x1).toBeGreaterThanOrEqual(0);
        expect(t.region.y1).toBeGreaterThanOrEqual(0);
        expect(t.region.x2).toBeLessThanOrEqual(w);
        expect(t.region.y2).toBeLessThanOrEqual(h);
        expect(t.scale).toBeLessThanOrEqual(Math.max(1, tiles[0].scale));
      }
      expect(tiles.length).toBeLessThanOrEqual(DEFAULTS.maxTiles);
    }
  });

  // Known bug (reported, not fixed here): tile origins are rounded, so when the tile size in source
  // pixels is fractional the last tile can stop short of the image edge (here x2 = 959.67 of 960)
  // and gets innerEdges.right = true; the detector then discards faces touching the image's right
  // border at that level as "cut". Remove `.failing` once planTiles is fixed.
  it('reaches the image edge with its last tile for a 960×1280 portrait (fractional tile size)', () => {
    const tiles = planTiles(960, 1280, NET_W, NET_H, DEFAULTS);
    for (const level of uniqueSorted(tiles.map((t) => t.level))) {
      const ts = levelOf(tiles, level);
      expect(Math.max(...ts.map((t) => t.region.x2))).toBe(960);
      expect(Math.max(...ts.map((t) => t.region.y2))).toBe(1280);
      for (const t of ts.filter((t) => t.region.x2 === Math.max(...ts.map((u) => u.region.x2)))) expect(t.innerEdges.right).toBe(false);
    }
  });
});
