import { faceId } from '@facepipe/contracts';
import type { Redis } from 'ioredis';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { ThumbnailStore } from './thumbnail-store';
import { deleteKeys, testRedis, uniquePrefix } from './test-support';

function crop(value: number) {
  return { width: 112, height: 112, data: new Uint8Array(112 * 112 * 3).fill(value) };
}

describe('ThumbnailStore (real Redis, real files)', () => {
  let redis: Redis;
  let prefix: string;
  let dir: string;
  let store: ThumbnailStore;
  const register = (c: string, createdAt: string) => redis.hset(`${prefix}:collections`, c, JSON.stringify({ createdAt }));

  beforeEach(() => {
    redis = testRedis();
    prefix = uniquePrefix('thumbs');
    dir = mkdtempSync(path.join(os.tmpdir(), 'facepipe-thumbs-'));
    store = new ThumbnailStore(dir, redis, prefix);
  });

  afterEach(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes a 112×112 JPEG per face, reads and deletes it', async () => {
    await register('c', '2024-01-01T00:00:00.000Z');
    const id = faceId('c', 'photo.jpg', 0);
    expect(await store.putMany('c', [{ faceId: id, crop: crop(200) }])).toBe(true);
    const jpeg = (await store.read(id))!;
    expect(await sharp(jpeg).metadata()).toMatchObject({ format: 'jpeg', width: 112, height: 112 });
    await store.delete([id]);
    expect(await store.read(id)).toBeNull();
    expect(await store.read('not-a-face')).toBeNull();
  });

  it('leaves no temp file behind when a write fails', async () => {
    await register('c', '2024-01-01T00:00:00.000Z');
    const id = faceId('c', 'photo.jpg', 0);
    expect(await store.putMany('c', [{ faceId: id, crop: crop(200) }])).toBe(true);
    // The crop's place is taken by a folder with something in it: the rename fails (as a full disk fails the write).
    const file = readdirSync(dir, { recursive: true, withFileTypes: true }).find((e) => e.isFile())!;
    const place = path.join(file.parentPath, file.name);
    rmSync(place);
    mkdirSync(path.join(place, 'in-the-way'), { recursive: true });
    await expect(store.putMany('c', [{ faceId: id, crop: crop(200) }])).rejects.toThrow();
    expect(readdirSync(dir, { recursive: true }).filter((n) => String(n).endsWith('.tmp'))).toEqual([]);
  });

  it('writes nothing for an unregistered collection, and never serves an older generation', async () => {
    const id = faceId('c', 'photo.jpg', 0);
    expect(await store.putMany('c', [{ faceId: id, crop: crop(1) }])).toBe(false);
    await register('c', '2024-01-01T00:00:00.000Z');
    await store.putMany('c', [{ faceId: id, crop: crop(1) }]);
    await register('c', '2024-06-01T00:00:00.000Z'); // deleted and created again under the same name
    expect(await store.read(id)).toBeNull();
    await store.dropCollection('c');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('removes crops written for a generation that is no longer live (deleted, or deleted and created again)', async () => {
    const id = faceId('c', 'photo.jpg', 0);
    // The detector checked the collection at this creation time; it was deleted before the write.
    expect(await store.putMany('c', [{ faceId: id, crop: crop(1) }], '2024-01-01T00:00:00.000Z')).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
    // … and created again meanwhile: the new generation keeps its own crops, the old one goes.
    await register('c', '2024-06-01T00:00:00.000Z');
    await store.putMany('c', [{ faceId: faceId('c', 'new.jpg', 0), crop: crop(2) }]);
    expect(await store.putMany('c', [{ faceId: id, crop: crop(1) }], '2024-01-01T00:00:00.000Z')).toBe(false);
    expect(readdirSync(path.join(dir, 'c'))).toEqual(['g20240601T000000000Z']);
    expect(await store.read(faceId('c', 'new.jpg', 0))).not.toBeNull();
  });

  it('refuses a face id of another collection', async () => {
    await register('c', '2024-01-01T00:00:00.000Z');
    await expect(store.putMany('c', [{ faceId: faceId('d', 'k', 0), crop: crop(1) }])).rejects.toThrow(TypeError);
  });
});
