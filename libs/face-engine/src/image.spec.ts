/**
 * Image decoding and cropping. Every test image is synthesised in memory with sharp: no binary
 * fixtures in the repository.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { FaceEngineError, type FaceEngineErrorCode } from './errors';
import { DEFAULT_MAX_PIXELS, MAX_FILE_BYTES, MAX_JPEG_SCANS, MAX_SIDE, cropResize, cropResizePadded, decodeImage, decodeImageFile, padTo } from './image';
import type { RgbImage } from './types';

/** A width×height RGB image with a left-to-right red ramp, top-to-bottom green ramp, constant blue. */
function rampRaw(width: number, height: number): Buffer {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      data[o] = Math.round((255 * x) / Math.max(1, width - 1));
      data[o + 1] = Math.round((255 * y) / Math.max(1, height - 1));
      data[o + 2] = 90;
    }
  }
  return data;
}

const ramp = (width: number, height: number) => sharp(rampRaw(width, height), { raw: { width, height, channels: 3 } });

/** Expects `promise` to reject with a FaceEngineError of `code`. */
async function expectCode(promise: Promise<unknown>, code: FaceEngineErrorCode): Promise<FaceEngineError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FaceEngineError);
  expect((err as FaceEngineError).code).toBe(code);
  return err as FaceEngineError;
}

const pixel = (img: RgbImage, x: number, y: number) => Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));

/** A solid-colour RgbImage. */
const solid = (width: number, height: number, rgb: [number, number, number]): RgbImage => {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(rgb, i * 3);
  return { width, height, data };
};

/** An RgbImage whose pixel (x, y) is (x, y, 7). */
const coords = (width: number, height: number): RgbImage => {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([x, y, 7], (y * width + x) * 3);
  return { width, height, data };
};

describe('decodeImage: formats', () => {
  const W = 48, H = 32;
  const encoders: [string, () => Promise<Buffer>][] = [
    ['JPEG', () => ramp(W, H).jpeg({ quality: 95 }).toBuffer()],
    ['PNG', () => ramp(W, H).png().toBuffer()],
    ['WebP', () => ramp(W, H).webp({ lossless: true }).toBuffer()],
    ['AVIF', () => ramp(W, H).avif({ quality: 80 }).toBuffer()],
    ['TIFF', () => ramp(W, H).tiff().toBuffer()],
    ['GIF', () => ramp(W, H).gif().toBuffer()],
  ];

  it.each(encoders)('decodes %s to packed 8-bit RGB of the right size', async (_name, encode) => {
    const img = await decodeImage(await encode());
    expect(img.width).toBe(W);
    expect(img.height).toBe(H);
    expect(img.data).toBeInstanceOf(Uint8Array);
    expect(img.data.length).toBe(W * H * 3);
    // Roughly the ramp: red grows left to right, green top to bottom (lossy formats are near).
    const [r0, g0] = pixel(img, 2, 2), [r1] = pixel(img, W - 3, 2), [, g1] = pixel(img, 2, H - 3);
    expect(r1 - r0).toBeGreaterThan(150);
    expect(g1 - g0).toBeGreaterThan(150);
  });

  it('decodes lossless PNG exactly', async () => {
    const png = await ramp(W, H).png().toBuffer();
    const img = await decodeImage(png);
    expect(Buffer.from(img.data)).toEqual(rampRaw(W, H));
  });

  it('applies EXIF orientation 6 (a 40×20 JPEG shows as 20×40, rotated clockwise)', async () => {
    // Left half black, right half white: after a 90° clockwise turn the top half is black.
    const raw = Buffer.alloc(40 * 20 * 3);
    for (let y = 0; y < 20; y++) for (let x = 20; x < 40; x++) raw.fill(255, (y * 40 + x) * 3, (y * 40 + x) * 3 + 3);
    const jpeg = await sharp(raw, { raw: { width: 40, height: 20, channels: 3 } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(jpeg).metadata()).orientation).toBe(6);
    const img = await decodeImage(jpeg);
    expect([img.width, img.height]).toEqual([20, 40]);
    expect(img.data.length).toBe(20 * 40 * 3);
    expect(pixel(img, 10, 5)[0]).toBeLessThan(30);
    expect(pixel(img, 10, 34)[0]).toBeGreaterThan(225);
  });

  it('converts 16-bit greyscale PNG to 3-channel 8-bit', async () => {
    const png16 = await sharp(Buffer.alloc(20 * 10, 0x80), { raw: { width: 20, height: 10, channels: 1 } })
      .toColourspace('grey16')
      .png()
      .toBuffer();
    const meta = await sharp(png16).metadata();
    expect(meta.depth).toBe('ushort');
    expect(meta.channels).toBe(1);
    const img = await decodeImage(png16);
    expect([img.width, img.height, img.data.length]).toEqual([20, 10, 20 * 10 * 3]);
    expect(pixel(img, 0, 0)).toEqual([128, 128, 128]);
    expect(pixel(img, 19, 9)).toEqual([128, 128, 128]);
  });

  it('flattens RGBA PNG onto white, to 3 channels', async () => {
    // Left pixel opaque red, right pixel fully transparent red.
    const png = await sharp(Buffer.from([255, 0, 0, 255, 255, 0, 0, 0]), { raw: { width: 2, height: 1, channels: 4 } }).png().toBuffer();
    expect((await sharp(png).metadata()).channels).toBe(4);
    const img = await decodeImage(png);
    expect([img.width, img.height, img.data.length]).toEqual([2, 1, 6]);
    expect(pixel(img, 0, 0)).toEqual([255, 0, 0]);
    expect(pixel(img, 1, 0)).toEqual([255, 255, 255]);
  });

  it('accepts images up to maxPixels exactly', async () => {
    const png = await ramp(10, 10).png().toBuffer();
    await expect(decodeImage(png, { maxPixels: 100 })).resolves.toMatchObject({ width: 10, height: 10 });
  });
});

describe('decodeImage: refusals', () => {
  it('refuses an empty buffer with IMAGE_EMPTY', async () => {
    await expectCode(decodeImage(Buffer.alloc(0)), 'IMAGE_EMPTY');
  });

  it('refuses random text with UNSUPPORTED_IMAGE_FORMAT', async () => {
    await expectCode(decodeImage(Buffer.from('this is not an image, just some text\n'.repeat(20))), 'UNSUPPORTED_IMAGE_FORMAT');
  });

  it('refuses SVG (which sharp could render) with UNSUPPORTED_IMAGE_FORMAT', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><rect width="40" height="40" fill="red"/></svg>');
    expect((await sharp(svg).metadata()).format).toBe('svg');
    const err = await expectCode(decodeImage(svg), 'UNSUPPORTED_IMAGE_FORMAT');
    expect(err.message).toContain('"svg"');
  });

  it('refuses a truncated JPEG with IMAGE_DECODE_FAILED', async () => {
    const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#000000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
      .jpeg()
      .toBuffer();
    await expect(decodeImage(jpeg)).resolves.toMatchObject({ width: 64, height: 48 });
    const truncated = jpeg.subarray(0, Math.floor(jpeg.length / 2));
    const err = await expectCode(decodeImage(truncated), 'IMAGE_DECODE_FAILED');
    expect(err.message).toMatch(/could not be decoded/);
  });

  it('decodes a JPEG whose only defect is its missing end marker (FF D9), with every pixel', async () => {
    const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#000000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
      .jpeg()
      .toBuffer();
    expect(jpeg.subarray(-2)).toEqual(Buffer.from([0xff, 0xd9]));
    const whole = await decodeImage(jpeg);
    const noEnd = await decodeImage(jpeg.subarray(0, -2));
    expect({ width: noEnd.width, height: noEnd.height }).toEqual({ width: 64, height: 48 });
    expect(Buffer.from(noEnd.data).equals(Buffer.from(whole.data))).toBe(true);
  });

  it('still refuses a progressive JPEG cut between two scans (it would decode, blurred)', async () => {
    const progressive = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#000000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
      .jpeg({ progressive: true })
      .toBuffer();
    // Cut right before its second scan's first marker (a DHT or the SOS itself).
    const scans: number[] = [];
    for (let at = progressive.indexOf(Buffer.from([0xff, 0xda])); at >= 0; at = progressive.indexOf(Buffer.from([0xff, 0xda]), at + 2)) scans.push(at);
    expect(scans.length).toBeGreaterThan(2);
    const dht = progressive.lastIndexOf(Buffer.from([0xff, 0xc4]), scans[1]);
    const cut = progressive.subarray(0, dht > scans[0] ? dht : scans[1]);
    await expectCode(decodeImage(cut), 'IMAGE_DECODE_FAILED');
  });

  it('refuses a photo cut inside its header, or with a corrupt header, with IMAGE_DECODE_FAILED (not UNSUPPORTED_IMAGE_FORMAT)', async () => {
    const base = ramp(64, 48);
    const encoded = {
      jpeg: await base.clone().jpeg().toBuffer(),
      png: await base.clone().png().toBuffer(),
      webp: await base.clone().webp().toBuffer(),
      gif: await base.clone().gif().toBuffer(),
      tiff: await base.clone().tiff().toBuffer(),
      avif: await base.clone().avif().toBuffer(),
    };
    for (const [format, bytes] of Object.entries(encoded)) {
      const cut = bytes.subarray(0, format === 'tiff' || format === 'avif' ? 16 : 30);
      const err = await expectCode(decodeImage(cut), 'IMAGE_DECODE_FAILED');
      expect(`${format}: ${err.message}`).toMatch(new RegExp(`^${format}: the image (header could not be read|could not be decoded)`));
    }
    // WebP's VP8 start code (9d 01 2a) damaged: the frame header no longer parses.
    const webp = Buffer.from(encoded.webp);
    const start = webp.indexOf(Buffer.from([0x9d, 0x01, 0x2a]));
    expect(start).toBeGreaterThan(0);
    webp[start] = 0;
    await expectCode(decodeImage(webp), 'IMAGE_DECODE_FAILED');
    // The same length of bytes with no photo signature stays a foreign format.
    await expectCode(decodeImage(Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj')), 'UNSUPPORTED_IMAGE_FORMAT');
    await expectCode(decodeImage(Buffer.from('\0\0\0\x18ftypmp42\0\0\0\0mp42isom')), 'UNSUPPORTED_IMAGE_FORMAT');
  });

  it('refuses an image over maxPixels with IMAGE_TOO_LARGE', async () => {
    const png = await ramp(40, 20).png().toBuffer();
    const err = await expectCode(decodeImage(png, { maxPixels: 799 }), 'IMAGE_TOO_LARGE');
    expect(err.message).toContain('40×20');
  });

  it('refuses a decompression bomb (144 MP single-colour PNG of a few hundred KB) under the default 50 MP limit', async () => {
    const bomb = await sharp({ create: { width: 12000, height: 12000, channels: 3, background: '#808080' } }).png({ compressionLevel: 9 }).toBuffer();
    expect(bomb.length).toBeLessThan(2_000_000);
    expect(12000 * 12000).toBeGreaterThan(DEFAULT_MAX_PIXELS);
    const started = Date.now();
    const err = await expectCode(decodeImage(bomb), 'IMAGE_TOO_LARGE');
    expect(Date.now() - started).toBeLessThan(2000); // refused from the header, nothing decoded
    expect(err.message).toContain('12000×12000');
  });

  it('refuses a strip with a side over 65,535 pixels (under the pixel limit) before decoding anything', async () => {
    const started = Date.now();
    const err = await expectCode(decodeImage(pngHeaderOnly(1, 49_000_000)), 'IMAGE_TOO_LARGE');
    expect(err.message).toContain('1×49000000');
    await expectCode(decodeImage(pngHeaderOnly(70_000, 2)), 'IMAGE_TOO_LARGE');
    expect(Date.now() - started).toBeLessThan(1000);
    // The longest side allowed still decodes.
    const strip = await sharp({ create: { width: 2, height: MAX_SIDE, channels: 3, background: '#808080' } }).png().toBuffer();
    expect(await decodeImage(strip)).toMatchObject({ width: 2, height: MAX_SIDE });
  });

  it('refuses a JPEG of hundreds of scans (each one a pass over the whole image) before decoding it, and decodes a progressive photo', async () => {
    const progressive = await ramp(64, 48).jpeg({ progressive: true }).toBuffer();
    expect(await decodeImage(progressive)).toMatchObject({ width: 64, height: 48 });
    // The same photo with its last scan repeated: every copy is a valid (no-op) refinement pass.
    const lastScan = progressive.lastIndexOf(Buffer.from([0xff, 0xda]));
    const scan = progressive.subarray(lastScan, progressive.length - 2); // up to EOI
    const many = Buffer.concat([progressive.subarray(0, progressive.length - 2), ...Array.from({ length: MAX_JPEG_SCANS }, () => scan), Buffer.from([0xff, 0xd9])]);
    const started = Date.now();
    const err = await expectCode(decodeImage(many), 'IMAGE_DECODE_FAILED');
    expect(err.message).toContain(`over ${MAX_JPEG_SCANS} scans`);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('decodes a motion photo: a JPEG followed by a video whose bytes hold hundreds of FF DA pairs', async () => {
    const still = await ramp(64, 48).jpeg().toBuffer();
    // Compressed video is near-random; this trailer holds an FF DA pair every 4 KiB, after an MP4 header.
    const video = randomBytes(2 * 1024 * 1024);
    for (let at = 0; at + 1 < video.length; at += 4096) video.set([0xff, 0xda], at);
    const motion = Buffer.concat([still, Buffer.from('\0\0\0\x18ftypmp42', 'latin1'), video]);
    expect(await decodeImage(motion)).toMatchObject({ width: 64, height: 48 });
    // Its scans, before the end-of-image marker, are still counted: the same trailer after a JPEG of too many scans is refused.
    const progressive = await ramp(64, 48).jpeg({ progressive: true }).toBuffer();
    const lastScan = progressive.lastIndexOf(Buffer.from([0xff, 0xda]));
    const scan = progressive.subarray(lastScan, progressive.length - 2);
    const many = Buffer.concat([progressive.subarray(0, progressive.length - 2), ...Array.from({ length: MAX_JPEG_SCANS }, () => scan), Buffer.from([0xff, 0xd9]), video]);
    await expectCode(decodeImage(many), 'IMAGE_DECODE_FAILED');
  });

  it('refuses a PNG header claiming 100000×100000 before decoding anything', async () => {
    const err = await expectCode(decodeImage(pngHeaderOnly(100_000, 100_000)), 'IMAGE_TOO_LARGE');
    expect(err.message).toContain('100000×100000');
  });

  it('maps a missing file to FILE_NOT_FOUND, a directory to FILE_UNREADABLE', async () => {
    const missing = path.join(tmpdir(), `face-engine-missing-${randomBytes(8).toString('hex')}.jpg`);
    const err = await expectCode(decodeImageFile(missing), 'FILE_NOT_FOUND');
    expect(err.message).toContain(missing);
    await expectCode(decodeImageFile(tmpdir()), 'FILE_UNREADABLE');
  });

  it('refuses a file over MAX_FILE_BYTES with IMAGE_TOO_LARGE before reading it', async () => {
    const huge = path.join(tmpdir(), `face-engine-huge-${randomBytes(8).toString('hex')}.jpg`);
    writeFileSync(huge, '');
    truncateSync(huge, MAX_FILE_BYTES + 1); // sparse: no disk is used
    try {
      const err = await expectCode(decodeImageFile(huge), 'IMAGE_TOO_LARGE');
      expect(err.message).toContain(`${MAX_FILE_BYTES + 1} bytes`);
    } finally {
      rmSync(huge, { force: true });
    }
  });

  it('refuses a named pipe or a device at once instead of waiting on it', async () => {
    const fifo = path.join(tmpdir(), `face-engine-fifo-${randomBytes(8).toString('hex')}.jpg`);
    execFileSync('mkfifo', [fifo]);
    try {
      const err = await expectCode(decodeImageFile(fifo), 'FILE_UNREADABLE');
      expect(err.message).toContain('not a regular file');
    } finally {
      rmSync(fifo, { force: true });
    }
    await expectCode(decodeImageFile('/dev/zero'), 'FILE_UNREADABLE');
  }, 5_000);
});

/** A minimal PNG: real IHDR for width×height RGB, one tiny (far too short) IDAT, IEND. */
function pngHeaderOnly(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(64))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('cropResize', () => {
  const img = coords(20, 10);

  it('cuts an in-image integer region exactly when the size is unchanged', async () => {
    const crop = await cropResize(img, { x1: 2, y1: 1, x2: 5, y2: 3 }, 3, 2);
    expect(crop.region).toEqual({ x1: 2, y1: 1, x2: 5, y2: 3 });
    expect([crop.image.width, crop.image.height, crop.image.data.length]).toEqual([3, 2, 18]);
    expect(Array.from(crop.image.data)).toEqual([2, 1, 7, 3, 1, 7, 4, 1, 7, 2, 2, 7, 3, 2, 7, 4, 2, 7]);
  });

  it('returns the region actually used: rounded outwards and clamped to the image', async () => {
    const crop = await cropResize(img, { x1: -5.5, y1: 2.3, x2: 10.2, y2: 100 }, 11, 8);
    expect(crop.region).toEqual({ x1: 0, y1: 2, x2: 11, y2: 10 });
    expect([crop.image.width, crop.image.height]).toEqual([11, 8]);
    // Same size as the used region, so the pixels are a plain copy.
    expect(pixel(crop.image, 0, 0)).toEqual([0, 2, 7]);
    expect(pixel(crop.image, 10, 7)).toEqual([10, 9, 7]);
  });

  it('keeps at least one pixel for a region outside the image', async () => {
    const crop = await cropResize(img, { x1: 30, y1: 20, x2: 40, y2: 30 }, 4, 4);
    expect(crop.region).toEqual({ x1: 19, y1: 9, x2: 20, y2: 10 });
    expect(pixel(crop.image, 3, 3)).toEqual([19, 9, 7]);
  });

  it('resizes to the requested size (averaging on a 2× downscale)', async () => {
    const src = solid(8, 8, [0, 0, 0]);
    for (let y = 0; y < 8; y++) for (let x = 4; x < 8; x++) src.data.set([200, 100, 50], (y * 8 + x) * 3);
    const crop = await cropResize(src, { x1: 0, y1: 0, x2: 8, y2: 8 }, 4, 4);
    expect(crop.region).toEqual({ x1: 0, y1: 0, x2: 8, y2: 8 });
    expect(crop.image.data.length).toBe(4 * 4 * 3);
    expect(pixel(crop.image, 0, 2)).toEqual([0, 0, 0]);
    expect(pixel(crop.image, 3, 2)).toEqual([200, 100, 50]);
  });
});

describe('cropResizePadded', () => {
  const white = solid(10, 10, [255, 255, 255]);

  it('keeps black padding on the side of a region half outside the image (left)', async () => {
    const out = await cropResizePadded(white, { x1: -10, y1: 0, x2: 10, y2: 10 }, 20, 10);
    expect([out.width, out.height, out.data.length]).toEqual([20, 10, 600]);
    for (let y = 0; y < 10; y++) {
      for (let x = 0; x < 10; x++) expect(pixel(out, x, y)).toEqual([0, 0, 0]);
      for (let x = 10; x < 20; x++) expect(pixel(out, x, y)).toEqual([255, 255, 255]);
    }
  });

  it('pads the bottom and right when the region runs past them, keeping scale and position', async () => {
    const img = coords(10, 10);
    // Region 5..15 × 5..15 into 20×20: scale 2; the image part 5..10 lands at 0..10.
    const out = await cropResizePadded(img, { x1: 5, y1: 5, x2: 15, y2: 15 }, 20, 20);
    expect(pixel(out, 10, 3)).toEqual([0, 0, 0]);
    expect(pixel(out, 3, 10)).toEqual([0, 0, 0]);
    expect(pixel(out, 9, 3)[2]).toBe(7); // image content right up to the padding
    expect(pixel(out, 3, 9)[2]).toBe(7);
    expect(pixel(out, 0, 0)).toEqual([5, 5, 7]);
    expect(pixel(out, 19, 19)).toEqual([0, 0, 0]);
    const inside = pixel(out, 9, 9);
    expect(inside[2]).toBe(7);
    expect(inside[0]).toBeGreaterThanOrEqual(8);
    expect(inside[0]).toBeLessThanOrEqual(10);
  });

  it('equals cropResize for a region inside the image', async () => {
    const img = coords(20, 10);
    const region = { x1: 3, y1: 2, x2: 9, y2: 8 };
    const out = await cropResizePadded(img, region, 6, 6);
    expect(Array.from(out.data)).toEqual(Array.from((await cropResize(img, region, 6, 6)).image.data));
  });

  it('is all black for a region entirely outside the image', async () => {
    const out = await cropResizePadded(white, { x1: 50, y1: 50, x2: 60, y2: 60 }, 8, 8);
    expect(out.data.length).toBe(8 * 8 * 3);
    expect(out.data.every((v) => v === 0)).toBe(true);
  });
});

describe('padTo', () => {
  const src: RgbImage = { width: 2, height: 1, data: Uint8Array.from([1, 2, 3, 4, 5, 6]) };

  it('pastes at the top-left of a black canvas', () => {
    const out = padTo(src, 3, 2);
    expect([out.width, out.height]).toEqual([3, 2]);
    expect(Array.from(out.data)).toEqual([1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('returns the same image when the size already matches', () => {
    expect(padTo(src, 2, 1)).toBe(src);
  });

  it('cuts off what does not fit', () => {
    const img = coords(3, 2);
    expect(Array.from(padTo(img, 2, 1).data)).toEqual([0, 0, 7, 1, 0, 7]);
    expect(Array.from(padTo(img, 1, 3).data)).toEqual([0, 0, 7, 0, 1, 7, 0, 0, 0]);
  });
});
