import { flipHorizontal, toChwTensor, type PixelNormalization } from './tensor';
import type { RgbImage } from './types';

/** 2×1 image: pixel 0 = (10, 20, 30), pixel 1 = (40, 50, 60). */
const IMG: RgbImage = { width: 2, height: 1, data: Uint8Array.from([10, 20, 30, 40, 50, 60]) };

describe('toChwTensor', () => {
  it('packs RGB planes in order R, G, B with (px − mean) / std', () => {
    const t = toChwTensor(IMG, { channelOrder: 'rgb', mean: 127, std: 128 });
    expect(t).toBeInstanceOf(Float32Array);
    expect(t).toHaveLength(6);
    const expected = [10, 40, 20, 50, 30, 60].map((v) => (v - 127) / 128);
    Array.from(t).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
  });

  it('packs BGR planes in order B, G, R', () => {
    const t = toChwTensor(IMG, { channelOrder: 'bgr', mean: 127.5, std: 127.5 });
    const expected = [30, 60, 20, 50, 10, 40].map((v) => (v - 127.5) / 127.5);
    Array.from(t).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
  });

  it('is the identity with mean 0 and std 1, and scales by 1/std', () => {
    expect(Array.from(toChwTensor(IMG, { channelOrder: 'rgb', mean: 0, std: 1 }))).toEqual([10, 40, 20, 50, 30, 60]);
    expect(Array.from(toChwTensor(IMG, { channelOrder: 'rgb', mean: 0, std: 255 })).map((v) => Math.round(v * 255))).toEqual([10, 40, 20, 50, 30, 60]);
    const ends = toChwTensor({ width: 2, height: 1, data: Uint8Array.from([0, 0, 0, 255, 255, 255]) }, { channelOrder: 'rgb', mean: 127.5, std: 127.5 });
    expect(ends[0]).toBeCloseTo(-1, 6);
    expect(ends[1]).toBeCloseTo(1, 6);
  });

  it('lays out a 2×2 image row-major within each plane', () => {
    const img: RgbImage = { width: 2, height: 2, data: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) };
    expect(Array.from(toChwTensor(img, { channelOrder: 'rgb', mean: 0, std: 1 }))).toEqual([1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12]);
  });

  it('writes at an offset into a shared batch buffer, leaving the rest alone', () => {
    const norm: PixelNormalization = { channelOrder: 'rgb', mean: 0, std: 1 };
    const batch = new Float32Array(2 + 6 + 6 + 1).fill(-7);
    const r1 = toChwTensor(IMG, norm, batch, 2);
    const r2 = toChwTensor(flipHorizontal(IMG), { ...norm, channelOrder: 'bgr' }, batch, 8);
    expect(r1).toBe(batch);
    expect(r2).toBe(batch);
    expect(Array.from(batch)).toEqual([-7, -7, 10, 40, 20, 50, 30, 60, 60, 30, 50, 20, 40, 10, -7]);
  });
});

describe('flipHorizontal', () => {
  it('mirrors each row, keeping the channels of each pixel together', () => {
    const img: RgbImage = { width: 3, height: 2, data: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19]) };
    const f = flipHorizontal(img);
    expect(f.width).toBe(3);
    expect(f.height).toBe(2);
    expect(Array.from(f.data)).toEqual([7, 8, 9, 4, 5, 6, 1, 2, 3, 17, 18, 19, 14, 15, 16, 11, 12, 13]);
  });

  it('returns a new image, and flipping twice gives the original', () => {
    const f = flipHorizontal(IMG);
    expect(f.data).not.toBe(IMG.data);
    expect(Array.from(IMG.data)).toEqual([10, 20, 30, 40, 50, 60]);
    expect(Array.from(flipHorizontal(f).data)).toEqual(Array.from(IMG.data));
  });
});
