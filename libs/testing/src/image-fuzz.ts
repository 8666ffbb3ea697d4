/**
 * Fuzz bodies for the upload and decode paths: mostly small mutations of real JPEG, PNG and WebP
 * bytes (made with sharp at test time), some with a header that claims huge dimensions, some
 * plain noise. Seeded, so a failing run can be replayed with its seed.
 */
import sharp from 'sharp';
import { seededRandom } from '@facepipe/contracts';

export interface FuzzBody {
  /** A unique file name, which says how the body was made (`0042-png-flip.png`). */
  name: string;
  bytes: Buffer;
}


const int = (rnd: () => number, n: number) => Math.floor(rnd() * n);

/** Small real photos-to-be: noisy gradients in the three formats, at a few sizes (pixels from `rnd`, so a seed replays). */
async function seeds(rnd: () => number): Promise<{ ext: string; bytes: Buffer }[]> {
  const out: { ext: string; bytes: Buffer }[] = [];
  for (const [width, height] of [
    [96, 64],
    [160, 120],
    [33, 257],
  ]) {
    const pixels = Buffer.alloc(width * height * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = ((i % (width * 3)) / 3 + int(rnd, 96)) & 0xff;
    const img = sharp(pixels, { raw: { width, height, channels: 3 } });
    out.push({ ext: 'jpg', bytes: await img.clone().jpeg({ quality: 80 }).toBuffer() });
    out.push({ ext: 'jpg', bytes: await img.clone().jpeg({ progressive: true }).toBuffer() });
    out.push({ ext: 'png', bytes: await img.clone().png().toBuffer() });
    out.push({ ext: 'webp', bytes: await img.clone().webp().toBuffer() });
    out.push({ ext: 'webp', bytes: await img.clone().webp({ lossless: true }).toBuffer() });
  }
  return out;
}

type Mutation = (b: Buffer, rnd: () => number) => Buffer;

/** The ways a body is damaged; each keeps most of the real bytes. */
export const MUTATIONS: Record<string, Mutation> = {
  flip: (b, rnd) => {
    const c = Buffer.from(b);
    for (let i = 1 + int(rnd, 8); i > 0; i--) c[int(rnd, c.length)] ^= 1 << int(rnd, 8);
    return c;
  },
  byte: (b, rnd) => {
    const c = Buffer.from(b);
    for (let i = 1 + int(rnd, 4); i > 0; i--) c[int(rnd, c.length)] = int(rnd, 256);
    return c;
  },
  header: (b, rnd) => {
    // the first 64 bytes hold the signature and dimensions of all three formats
    const c = Buffer.from(b);
    for (let i = 1 + int(rnd, 3); i > 0; i--) c[int(rnd, Math.min(64, c.length))] = int(rnd, 256);
    return c;
  },
  truncate: (b, rnd) => b.subarray(0, int(rnd, b.length)),
  zeros: (b, rnd) => {
    const c = Buffer.from(b);
    const at = int(rnd, c.length);
    c.fill(0, at, Math.min(c.length, at + 1 + int(rnd, 256)));
    return c;
  },
  insert: (b, rnd) => {
    const at = int(rnd, b.length);
    const junk = Buffer.from(Array.from({ length: 1 + int(rnd, 64) }, () => int(rnd, 256)));
    return Buffer.concat([b.subarray(0, at), junk, b.subarray(at)]);
  },
  splice: (b, rnd) => {
    // a run of the file copied over another place: plausible markers in the wrong place
    const from = int(rnd, b.length);
    const to = int(rnd, b.length);
    const c = Buffer.from(b);
    b.copy(c, to, from, from + 1 + int(rnd, 128));
    return c;
  },
  huge: (b, rnd) => claimDimensions(b, 30_000 + int(rnd, 30_000), 30_000 + int(rnd, 30_000)),
  noise: (_b, rnd) => Buffer.from(Array.from({ length: int(rnd, 2048) }, () => int(rnd, 256))),
};

/** How often each mutation is drawn (out of the total): mostly small damage. */
const WEIGHTS: [keyof typeof MUTATIONS, number][] = [
  ['flip', 30],
  ['byte', 15],
  ['header', 12],
  ['truncate', 15],
  ['zeros', 8],
  ['insert', 6],
  ['splice', 6],
  ['huge', 4],
  ['noise', 4],
];

/**
 * A decompression bomb in miniature: the same bytes with a header claiming width×height (PNG IHDR
 * with its CRC fixed, JPEG SOF, WebP VP8/VP8L/VP8X). Formats it does not know come back as they are.
 */
export function claimDimensions(b: Buffer, width: number, height: number): Buffer {
  const c = Buffer.from(b);
  if (c.subarray(1, 4).toString('latin1') === 'PNG' && c.length > 33) {
    c.writeUInt32BE(width, 16);
    c.writeUInt32BE(height, 20);
    c.writeUInt32BE(crc32(c.subarray(12, 29)), 29);
    return c;
  }
  if (c[0] === 0xff && c[1] === 0xd8) {
    for (let i = 2; i + 9 < c.length; ) {
      if (c[i] !== 0xff) break;
      const marker = c[i + 1];
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        c.writeUInt16BE(Math.min(height, 65535), i + 5);
        c.writeUInt16BE(Math.min(width, 65535), i + 7);
        return c;
      }
      i += 2 + c.readUInt16BE(i + 2);
    }
    return c;
  }
  if (c.subarray(8, 12).toString('latin1') === 'WEBP') {
    const chunk = c.subarray(12, 16).toString('latin1');
    const w = Math.min(width, 16383);
    const h = Math.min(height, 16383);
    if (chunk === 'VP8 ' && c.length > 30) {
      c.writeUInt16LE(w, 26);
      c.writeUInt16LE(h, 28);
    } else if (chunk === 'VP8L' && c.length > 25) {
      c.writeUInt32LE((w - 1) | ((h - 1) << 14) | (c.readUInt32LE(21) & 0xf0000000), 21);
    }
  }
  return c;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (const byte of b) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** `count` fuzz bodies from `seed`; about 3% are the undamaged originals (they must decode). */
export async function fuzzBodies(count: number, seed: number): Promise<FuzzBody[]> {
  const rnd = seededRandom(seed);
  const originals = await seeds(rnd);
  const total = WEIGHTS.reduce((s, [, w]) => s + w, 0);
  const pick = (): keyof typeof MUTATIONS => {
    let r = rnd() * total;
    for (const [name, w] of WEIGHTS) if ((r -= w) < 0) return name;
    return 'flip';
  };
  return Array.from({ length: count }, (_, i) => {
    const original = originals[int(rnd, originals.length)];
    const id = String(i).padStart(4, '0');
    if (rnd() < 0.03) return { name: `${id}-${original.ext}-original.${original.ext}`, bytes: original.bytes };
    const how = pick();
    return { name: `${id}-${original.ext}-${how}.${original.ext}`, bytes: MUTATIONS[how](original.bytes, rnd) };
  });
}
