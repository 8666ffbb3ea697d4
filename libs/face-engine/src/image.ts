import { readFile, stat } from 'node:fs/promises';
import sharp from 'sharp';
import { FaceEngineError } from './errors';
import type { Box, RgbImage } from './types';

/** 50 megapixels: a 8660×5773 scan. Bigger inputs are refused before any pixel is decoded. */
export const DEFAULT_MAX_PIXELS = 50_000_000;

/**
 * The longest side accepted, whatever the pixel count: JPEG's own limit. A taller (or wider) image
 * within the pixel limit is a strip a few pixels across, not a photo, and decoding and resizing
 * cost time per row: a 95 KB PNG of 1×49,000,000 pixels held a detector for minutes.
 */
export const MAX_SIDE = 65_535;

/**
 * The most scans a JPEG may have. A progressive photo has about ten (libjpeg's default script:
 * 10 for colour, 6 for grey; optimisers use a few more); every scan is a pass over the whole
 * image, so a 500 KB file of 2,646 valid but empty scans took 25 s to decode at 49 MP.
 */
export const MAX_JPEG_SCANS = 100;

/** Formats we accept. SVG, PDF and friends are refused: they are programs, not photos. */
const ACCEPTED_FORMATS = new Set(['jpeg', 'png', 'webp', 'avif', 'heif', 'tiff', 'gif']);

export interface DecodeOptions {
  /** Refuse images with more pixels than this (after reading the header only). */
  maxPixels?: number;
}

/**
 * Decodes a photo into packed 8-bit RGB with EXIF orientation applied, so all coordinates the
 * engine reports are in the pixels a viewer shows. Alpha is flattened onto white; greyscale,
 * CMYK and 16-bit inputs are converted to 8-bit sRGB; animated GIF/WebP give their first frame.
 */
export async function decodeImage(input: Buffer, options: DecodeOptions = {}): Promise<RgbImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (input.length === 0) throw new FaceEngineError('IMAGE_EMPTY', 'the image is empty (0 bytes)');

  let meta: sharp.Metadata;
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (err) {
    // A photo's own signature with a header that does not parse is a damaged photo (cut short, or
    // corrupt), not a foreign format: say so, as the decode step below does for a damaged body.
    if (hasPhotoSignature(input)) {
      const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
      throw new FaceEngineError('IMAGE_DECODE_FAILED', `the image header could not be read: ${reason}`, { cause: err });
    }
    throw new FaceEngineError('UNSUPPORTED_IMAGE_FORMAT', 'not a supported image (JPEG, PNG, WebP, AVIF, TIFF or GIF)', {
      cause: err,
    });
  }
  // HEIF holding HEVC (an iPhone's HEIC) rather than AV1 (AVIF): libvips is built without an HEVC decoder.
  if (meta.format === 'heif' && meta.compression !== 'av1') {
    throw new FaceEngineError('UNSUPPORTED_IMAGE_FORMAT', `HEIF with ${meta.compression ?? 'unknown'} compression (an iPhone's HEIC) is not supported: send it as JPEG (accepted: JPEG, PNG, WebP, AVIF, TIFF, GIF)`);
  }
  if (!meta.format || !ACCEPTED_FORMATS.has(meta.format)) {
    throw new FaceEngineError(
      'UNSUPPORTED_IMAGE_FORMAT',
      `unsupported image format "${meta.format ?? 'unknown'}" (accepted: JPEG, PNG, WebP, AVIF, TIFF, GIF)`,
    );
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (width <= 0 || height <= 0) throw new FaceEngineError('IMAGE_DECODE_FAILED', 'the image has no dimensions');
  if (width * height > maxPixels) {
    throw new FaceEngineError(
      'IMAGE_TOO_LARGE',
      `image is ${width}×${height} (${megapixels(width * height)}), over the limit of ${megapixels(maxPixels)}`,
    );
  }
  if (Math.max(width, height) > MAX_SIDE) {
    throw new FaceEngineError('IMAGE_TOO_LARGE', `image is ${width}×${height}: a side over ${MAX_SIDE} pixels`);
  }
  if (meta.format === 'jpeg') {
    const scans = jpegScans(input, MAX_JPEG_SCANS + 1);
    if (scans > MAX_JPEG_SCANS) throw new FaceEngineError('IMAGE_DECODE_FAILED', `the JPEG has over ${MAX_JPEG_SCANS} scans (a photo has about ten): not decoded`);
    // Many cameras and copy tools leave off the final end-of-image marker, with every pixel there.
    // libjpeg warns "premature end of JPEG image" and failOn would refuse the photo: give it the
    // marker. Only a baseline JPEG (one scan): one cut inside its scan still fails ("premature end
    // of data segment"), while a progressive one cut between two scans would decode, blurred.
    if (!endsWith(input, EOI) && isBaselineJpeg(input)) input = Buffer.concat([input, EOI]);
  }

  try {
    const { data, info } = await sharp(input, { limitInputPixels: maxPixels, failOn: 'warning', pages: 1 })
      .rotate() // EXIF orientation
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 channels after conversion, got ${info.channels}`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new FaceEngineError('IMAGE_DECODE_FAILED', `the image could not be decoded: ${reason}`, { cause: err });
  }
}

/**
 * Start-of-scan markers in a JPEG's primary image, counted up to `stop`: its marker segments are
 * walked (each skipped by its length, so an EXIF thumbnail inside APP1 does not count) and the
 * entropy-coded data between them searched for the next marker, up to the first end-of-image.
 * What follows that (a motion photo's video, an MPF second image, a vendor trailer: near-random
 * bytes, one FF DA per 64 KiB) is not this photo's: counting it refused 8 MB motion photos.
 */
function jpegScans(b: Buffer, stop: number): number {
  let n = 0;
  for (let at = 2; n < stop; ) {
    at = b.indexOf(0xff, at);
    if (at < 0 || at + 1 >= b.length) break;
    const marker = b[at + 1];
    if (marker === 0xff) at += 1; // fill byte
    else if (marker === 0x00 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) at += 2; // stuffed FF, TEM, RSTn: no length
    else if (marker === 0xd9) break; // EOI
    else {
      if (marker === 0xda) n++;
      if (at + 4 > b.length) break;
      at += 2 + b.readUInt16BE(at + 2);
    }
  }
  return n;
}
const EOI = Buffer.from([0xff, 0xd9]);

/** Whether the JPEG's frame (its first SOFn marker, walking the header's segments) is baseline or extended sequential. */
function isBaselineJpeg(b: Buffer): boolean {
  let at = 2; // after SOI
  while (at + 4 <= b.length) {
    if (b[at] !== 0xff) return false;
    const marker = b[at + 1];
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0xc0 || marker === 0xc1) return true;
    if (marker >= 0xc2 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return false; // another SOFn
    if (marker === 0xda) return false; // a scan before any frame
    at += 2 + b.readUInt16BE(at + 2);
  }
  return false;
}

function endsWith(b: Buffer, tail: Buffer): boolean {
  return b.length >= tail.length && b.subarray(b.length - tail.length).equals(tail);
}

/** ISO-BMFF brands of AVIF and HEIF stills (`ftyp` box); video brands (mp4, mov) are not photos. */
const PHOTO_BRANDS = new Set(['avif', 'avis', 'heic', 'heix', 'heim', 'heis', 'mif1', 'msf1']);

/** True when the bytes start with the magic number of a format we accept. */
function hasPhotoSignature(b: Buffer): boolean {
  const ascii = (from: number, to: number) => b.subarray(from, to).toString('latin1');
  return (
    (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) || // JPEG
    ascii(0, 8) === '\x89PNG\r\n\x1a\n' ||
    (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') ||
    ascii(0, 6) === 'GIF87a' ||
    ascii(0, 6) === 'GIF89a' ||
    ascii(0, 4) === 'II*\0' ||
    ascii(0, 4) === 'MM\0*' || // TIFF, both byte orders
    (ascii(4, 8) === 'ftyp' && PHOTO_BRANDS.has(ascii(8, 12)))
  );
}

/** Largest photo file read: a 50-megapixel 16-bit TIFF is 300 MB; Node reads no file over 2 GiB at once. */
export const MAX_FILE_BYTES = 2 ** 30;

/** Reads a file and decodes it, mapping file-system failures to typed errors. */
export async function decodeImageFile(path: string, options: DecodeOptions = {}): Promise<RgbImage> {
  let bytes: Buffer;
  try {
    // Only a regular file: reading a named pipe would wait for a writer for ever, a device for ever.
    const info = await stat(path);
    if (!info.isFile()) throw new FaceEngineError('FILE_UNREADABLE', `cannot read ${path}: not a regular file`);
    // The file is read whole before its header says how many pixels it has: bound the read.
    if (info.size > MAX_FILE_BYTES) throw new FaceEngineError('IMAGE_TOO_LARGE', `${path} is ${info.size} bytes, over the ${MAX_FILE_BYTES / 2 ** 30} GiB a photo file may have`);
    bytes = await readFile(path);
  } catch (err) {
    if (err instanceof FaceEngineError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FaceEngineError('FILE_NOT_FOUND', `no such file: ${path}`, { cause: err });
    throw new FaceEngineError('FILE_UNREADABLE', `cannot read ${path}: ${code ?? String(err)}`, { cause: err });
  }
  return decodeImage(bytes, options);
}

/** A resized crop and the whole-pixel region of the source it was cut from. */
export interface Crop {
  image: RgbImage;
  /** The region actually used (the requested one rounded outwards and clamped to the image). */
  region: Box;
}

/**
 * Cuts `region` (clamped to the image; may be fractional) out of `image` and resizes it to
 * outWidth×outHeight with libvips' area-aware filters, so big downscales do not alias.
 */
export async function cropResize(image: RgbImage, region: Box, outWidth: number, outHeight: number): Promise<Crop> {
  const left = clampInt(Math.floor(region.x1), 0, image.width - 1);
  const top = clampInt(Math.floor(region.y1), 0, image.height - 1);
  const right = clampInt(Math.ceil(region.x2), left + 1, image.width);
  const bottom = clampInt(Math.ceil(region.y2), top + 1, image.height);
  const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .extract({ left, top, width: right - left, height: bottom - top })
    .resize(outWidth, outHeight, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer();
  return {
    image: { width: outWidth, height: outHeight, data: new Uint8Array(data.buffer, data.byteOffset, data.length) },
    region: { x1: left, y1: top, x2: right, y2: bottom },
  };
}

/**
 * Like cropResize, but `region` may reach outside the image: the outside is black, so the face
 * keeps its aspect and position in the crop (no squeezing when a face touches the border).
 */
export async function cropResizePadded(image: RgbImage, region: Box, outWidth: number, outHeight: number): Promise<RgbImage> {
  const sx = outWidth / (region.x2 - region.x1), sy = outHeight / (region.y2 - region.y1);
  const inner = {
    x1: Math.max(0, region.x1), y1: Math.max(0, region.y1),
    x2: Math.min(image.width, region.x2), y2: Math.min(image.height, region.y2),
  };
  if (inner.x1 === region.x1 && inner.y1 === region.y1 && inner.x2 === region.x2 && inner.y2 === region.y2) {
    return (await cropResize(image, region, outWidth, outHeight)).image;
  }
  const canvas: RgbImage = { width: outWidth, height: outHeight, data: new Uint8Array(outWidth * outHeight * 3) };
  const ox = Math.round((inner.x1 - region.x1) * sx), oy = Math.round((inner.y1 - region.y1) * sy);
  const w = Math.min(outWidth - ox, Math.round((inner.x2 - inner.x1) * sx));
  const h = Math.min(outHeight - oy, Math.round((inner.y2 - inner.y1) * sy));
  if (w < 1 || h < 1 || inner.x2 - inner.x1 < 1 || inner.y2 - inner.y1 < 1) return canvas;
  const part = (await cropResize(image, inner, w, h)).image;
  for (let y = 0; y < h; y++) {
    canvas.data.set(part.data.subarray(y * w * 3, (y + 1) * w * 3), ((oy + y) * outWidth + ox) * 3);
  }
  return canvas;
}

/** Pastes `src` at (0, 0) of a black width×height canvas (letterbox padding on the right/bottom). */
export function padTo(src: RgbImage, width: number, height: number): RgbImage {
  if (src.width === width && src.height === height) return src;
  const data = new Uint8Array(width * height * 3);
  const rowBytes = Math.min(src.width, width) * 3;
  for (let y = 0; y < Math.min(src.height, height); y++) {
    data.set(src.data.subarray(y * src.width * 3, y * src.width * 3 + rowBytes), y * width * 3);
  }
  return { width, height, data };
}

function clampInt(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/** 12.3 MP, or a pixel count where that would round to nothing (a limit set low, for tests or thumbnails). */
function megapixels(pixels: number): string {
  return pixels >= 1e5 ? `${(pixels / 1e6).toFixed(1)} MP` : `${pixels} pixels`;
}
