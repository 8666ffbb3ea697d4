import type { Box, FivePoints, Point, RgbImage } from './types';

/**
 * The standard ArcFace 112×112 template (insightface `arcface_dst`): left eye, right eye, nose
 * tip, left and right mouth corners, in output pixel coordinates.
 */
export const ARCFACE_TEMPLATE_112: FivePoints = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

/** A 2×3 affine matrix [a, b, tx, c, d, ty]: x' = a·x + b·y + tx, y' = c·x + d·y + ty. */
export type Affine = [number, number, number, number, number, number];

/**
 * Least-squares similarity transform (rotation, uniform scale, translation; no reflection) that
 * maps `src` onto `dst` — Umeyama's estimate. In 2-D it has a closed form: writing points as
 * complex numbers, the best z = s·e^{iθ} is Σ(q̃·conj(p̃)) / Σ|p̃|² over the centred points, which
 * is what Umeyama's SVD yields whenever the points are not degenerate.
 */
export function similarityTransform(src: readonly Point[], dst: readonly Point[]): Affine {
  if (src.length !== dst.length || src.length < 2) throw new Error('need two or more point pairs of equal count');
  const n = src.length;
  let mpx = 0, mpy = 0, mqx = 0, mqy = 0;
  for (let i = 0; i < n; i++) {
    mpx += src[i][0]; mpy += src[i][1]; mqx += dst[i][0]; mqy += dst[i][1];
  }
  mpx /= n; mpy /= n; mqx /= n; mqy /= n;
  let re = 0, im = 0, norm = 0;
  for (let i = 0; i < n; i++) {
    const px = src[i][0] - mpx, py = src[i][1] - mpy;
    const qx = dst[i][0] - mqx, qy = dst[i][1] - mqy;
    re += qx * px + qy * py; // Re(q · conj(p))
    im += qy * px - qx * py; // Im(q · conj(p))
    norm += px * px + py * py;
  }
  if (norm === 0) throw new Error('source points are all identical');
  const a = re / norm, b = im / norm; // z = a + ib: x' = a·x − b·y, y' = b·x + a·y
  return [a, -b, mqx - (a * mpx - b * mpy), b, a, mqy - (b * mpx + a * mpy)];
}

export function applyAffine(m: Affine, p: Point): Point {
  return [m[0] * p[0] + m[1] * p[1] + m[2], m[3] * p[0] + m[4] * p[1] + m[5]];
}

export function invertAffine(m: Affine): Affine {
  const [a, b, tx, c, d, ty] = m;
  const det = a * d - b * c;
  if (det === 0) throw new Error('singular transform');
  const ia = d / det, ib = -b / det, ic = -c / det, id = a / det;
  return [ia, ib, -(ia * tx + ib * ty), ic, id, -(ic * tx + id * ty)];
}

/** The uniform scale of a similarity transform. */
export function affineScale(m: Affine): number {
  return Math.sqrt(Math.abs(m[0] * m[4] - m[1] * m[3]));
}

/**
 * Warps `src` by the forward transform `m` (source → output pixels) into a width×height image,
 * sampling bilinearly; outside the source is black (as OpenCV's warpAffine with a constant
 * border). Pixel centres sit at integer coordinates, the OpenCV convention of the template.
 */
export function warpAffine(src: RgbImage, m: Affine, width: number, height: number): RgbImage {
  const inv = invertAffine(m);
  const out = new Uint8Array(width * height * 3);
  const { width: sw, height: sh, data } = src;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const sx = inv[0] * x + inv[1] * y + inv[2];
      const sy = inv[3] * x + inv[4] * y + inv[5];
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      const fx = sx - x0, fy = sy - y0;
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) {
        const v00 = pixel(data, sw, sh, x0, y0, c), v10 = pixel(data, sw, sh, x0 + 1, y0, c);
        const v01 = pixel(data, sw, sh, x0, y0 + 1, c), v11 = pixel(data, sw, sh, x0 + 1, y0 + 1, c);
        const v = (v00 * (1 - fx) + v10 * fx) * (1 - fy) + (v01 * (1 - fx) + v11 * fx) * fy;
        out[o + c] = Math.round(v);
      }
    }
  }
  return { width, height, data: out };
}

function pixel(data: Uint8Array, w: number, h: number, x: number, y: number, c: number): number {
  return x < 0 || y < 0 || x >= w || y >= h ? 0 : data[(y * w + x) * 3 + c];
}

/** The source-image region that an output rectangle of a forward transform `m` samples from. */
export function sourceRegion(m: Affine, width: number, height: number): Box {
  const inv = invertAffine(m);
  const corners = ([[0, 0], [width, 0], [0, height], [width, height]] as Point[]).map((p) => applyAffine(inv, p));
  const xs = corners.map((p) => p[0]), ys = corners.map((p) => p[1]);
  return { x1: Math.min(...xs), y1: Math.min(...ys), x2: Math.max(...xs), y2: Math.max(...ys) };
}
