import { decodeBytes, decodeFloat32, encodeBytes, encodeFloat32 } from './codec';
import { COLLECTION_NAME, ERASABLE_PHOTO_KEY, PHOTO_KEY, faceId, photoJobId } from './jobs';
import { detectJobSchema, matchJobSchema } from './queues';

describe('ids', () => {
  it('derive deterministically from (collection, key[, index]) and differ otherwise', () => {
    expect(photoJobId('c', 'a.jpg')).toBe(photoJobId('c', 'a.jpg'));
    expect(photoJobId('c', 'a.jpg')).not.toBe(photoJobId('d', 'a.jpg'));
    // The separator keeps ("ab", "c") apart from ("a", "bc").
    expect(photoJobId('ab', 'c')).not.toBe(photoJobId('a', 'bc'));
    expect(faceId('c', 'a.jpg', 0)).toBe(faceId('c', 'a.jpg', 0));
    expect(faceId('c', 'a.jpg', 0)).not.toBe(faceId('c', 'a.jpg', 1));
    expect(photoJobId('c', 'a.jpg')).toMatch(/^p[0-9a-f]{40}$/); // BullMQ ids must not contain ':'
  });
});

describe('codec', () => {
  it('round-trips float32 vectors and bytes exactly', () => {
    const v = Float32Array.from([0.1, -2.5, 3e-8, 1]);
    expect(Array.from(decodeFloat32(encodeFloat32(v)))).toEqual(Array.from(v));
    const b = Uint8Array.from([0, 255, 7]);
    expect(Array.from(decodeBytes(encodeBytes(b)))).toEqual([0, 255, 7]);
  });
});

describe('validation', () => {
  it('accepts good names and keys, refuses bad ones', () => {
    expect(COLLECTION_NAME.test('family_2024-a')).toBe(true);
    for (const bad of ['', 'Upper', 'a b', 'x'.repeat(65), '../x']) expect(COLLECTION_NAME.test(bad)).toBe(false);
    expect(PHOTO_KEY.test('albums/2024/IMG 1.jpg')).toBe(true);
    expect(PHOTO_KEY.test('bad\nkey')).toBe(false);
    expect(PHOTO_KEY.test('x'.repeat(513))).toBe(false);
    expect(PHOTO_KEY.test('😀'.repeat(512))).toBe(true); // characters, not UTF-16 units
    expect(PHOTO_KEY.test('\ud800.jpg')).toBe(false); // a lone surrogate
    expect(PHOTO_KEY.test('x\udc00')).toBe(false);
    expect(PHOTO_KEY.test('caf\ufffd.jpg')).toBe(false); // a non-UTF-8 name, decoded lossily
    // C1 controls (U+009B is a terminal's CSI): refused, but still erasable (taken before they were refused).
    for (const c of ['\u0080', '\u0085', '\u009b', '\u009f']) {
      expect([PHOTO_KEY.test(`a${c}b.jpg`), ERASABLE_PHOTO_KEY.test(`a${c}b.jpg`)]).toEqual([false, true]);
    }
    expect(PHOTO_KEY.test('\u00a0\u00e9.jpg')).toBe(true); // the next characters are fine
  });

  it('checks job payloads', () => {
    expect(detectJobSchema.safeParse({ jobId: 'j', collection: 'c', key: 'k', source: { kind: 'path', path: '/p' } }).success).toBe(true);
    expect(detectJobSchema.safeParse({ jobId: 'j', collection: 'c', key: 'k', source: { kind: 'blob', blobId: 'nothex' } }).success).toBe(false);
    expect(matchJobSchema.safeParse({ jobId: 'j', collection: 'c', key: 'k', width: 1, height: 1, faces: [{ index: 0, box: [0, 0, 1, 1], score: 1, quality: 1, landmarks: [[0, 0]], embedding: '' }] }).success).toBe(false);
  });
});
