import type { Box } from './types';

/** One pass of the detector: a source region, the scale it is resized by, and what to keep from it. */
export interface Tile {
  /** Region of the source image (pixels) that this tile covers. */
  region: Box;
  /** Source → network scale of this tile's level. */
  scale: number;
  level: number;
  /** Keep detections whose height (network pixels) lies in [minFace, maxFace]. */
  minFace: number;
  maxFace: number;
  /** Which tile edges are inside the image: a box touching one is a cut face, found whole elsewhere. */
  innerEdges: { left: boolean; top: boolean; right: boolean; bottom: boolean };
}

export interface TilingOptions {
  /** Smallest face (source pixels) the finest level must still see at `smallFace` network pixels. */
  minFaceSize: number;
  /** Network face height below which a coarser level defers to the next finer one. */
  smallFace: number;
  /** Network face height above which a tiled level defers to a coarser one; also the tile overlap. */
  largeFace: number;
  maxTiles: number;
}

/**
 * Plans a multi-scale pass of a fixed-input detector over an image. Level 0 fits the whole image
 * into the network input (aspect kept, padded). Each next level doubles the scale and covers the
 * image with input-sized tiles overlapping by `largeFace` network pixels, so any face it is meant
 * to find lies whole inside at least one tile. Levels stop once faces of `minFaceSize` reach
 * `smallFace` network pixels, at native resolution (no upsampling past 1:1 beyond level 0),
 * or when `maxTiles` would be exceeded.
 *
 * Face sizes are split between levels: a level keeps faces from `smallFace` up to `largeFace`
 * (level 0 has no upper bound, the finest level no lower bound); since `largeFace` ≥ 2·`smallFace`
 * the bands overlap and the final NMS merges the duplicates.
 */
export function planTiles(width: number, height: number, netWidth: number, netHeight: number, opts: TilingOptions): Tile[] {
  const s0 = Math.min(netWidth / width, netHeight / height);
  const scales = [s0];
  while (true) {
    const prev = scales[scales.length - 1];
    if (opts.minFaceSize * prev >= opts.smallFace || prev >= 1) break;
    scales.push(Math.min(1, prev * 2));
  }

  // Tile origins per level; the finest levels go first when the tile budget is exceeded.
  const grids = scales.map((scale, level) => {
    if (level === 0) return { xs: [0], ys: [0], tileW: width, tileH: height };
    const tileW = netWidth / scale, tileH = netHeight / scale; // tile size in source pixels
    const overlap = opts.largeFace / scale;
    return { xs: starts(width, tileW, overlap), ys: starts(height, tileH, overlap), tileW, tileH };
  });
  const count = () => grids.reduce((n, g) => n + g.xs.length * g.ys.length, 0);
  while (grids.length > 1 && count() > opts.maxTiles) grids.pop();

  const tiles: Tile[] = [];
  grids.forEach(({ xs, ys, tileW, tileH }, level) => {
    const scale = scales[level];
    const minFace = level === grids.length - 1 ? 0 : opts.smallFace;
    const maxFace = level === 0 ? Infinity : opts.largeFace;
    // Edges come from the grid position, and the last tile of a row or column ends exactly at the
    // image edge: rounded origins must not leave a sliver, nor flag the image border as a cut.
    ys.forEach((y, row) => {
      xs.forEach((x, col) => {
        const lastCol = col === xs.length - 1, lastRow = row === ys.length - 1;
        const region = { x1: x, y1: y, x2: lastCol ? width : Math.min(width, x + tileW), y2: lastRow ? height : Math.min(height, y + tileH) };
        tiles.push({
          region, scale, level, minFace, maxFace,
          innerEdges: { left: col > 0, top: row > 0, right: !lastCol, bottom: !lastRow },
        });
      });
    });
  });
  return tiles;
}

/** Evenly spread tile origins covering [0, length) with at least `overlap` between neighbours. */
function starts(length: number, tile: number, overlap: number): number[] {
  if (tile >= length) return [0];
  const count = Math.ceil((length - overlap) / (tile - overlap));
  const step = (length - tile) / (count - 1);
  return Array.from({ length: count }, (_, i) => Math.round(i * step));
}
