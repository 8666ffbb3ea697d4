import type { RgbImage } from './types';

/** How a model wants its pixels: channel order and per-channel (px − mean) / std. */
export interface PixelNormalization {
  channelOrder: 'rgb' | 'bgr';
  mean: number;
  std: number;
}

/**
 * Packs RGB pixels into a planar (CHW) float tensor, optionally into `out` at `offset` so that
 * several crops can share one batch buffer.
 */
export function toChwTensor(
  image: RgbImage,
  norm: PixelNormalization,
  out = new Float32Array(3 * image.width * image.height),
  offset = 0,
): Float32Array {
  const plane = image.width * image.height;
  const { data } = image;
  const [c0, c2] = norm.channelOrder === 'rgb' ? [0, 2] : [2, 0];
  const scale = 1 / norm.std;
  for (let i = 0, p = 0; i < plane; i++, p += 3) {
    out[offset + i] = (data[p + c0] - norm.mean) * scale;
    out[offset + plane + i] = (data[p + 1] - norm.mean) * scale;
    out[offset + 2 * plane + i] = (data[p + c2] - norm.mean) * scale;
  }
  return out;
}

/** Mirrors an image left-right (used for flip test-time augmentation of aligned crops). */
export function flipHorizontal(image: RgbImage): RgbImage {
  const { width, height, data } = image;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let x = 0; x < width; x++) {
      const s = row + x * 3;
      const d = row + (width - 1 - x) * 3;
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
    }
  }
  return { width, height, data: out };
}
