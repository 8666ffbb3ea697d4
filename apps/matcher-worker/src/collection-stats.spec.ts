import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EmbeddedFaceIndex, type FacePayload, type FaceIndex } from '@facepipe/face-index';
import { REDIS_URL } from '@facepipe/testing';
import Redis from 'ioredis';
import { CollectionStats } from './collection-stats';

const PREFIX = `facepipe-test-stats-${process.pid}-${Date.now()}`;
const C = 'c';
let redis: Redis;
let index: FaceIndex;
let dir: string;

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  dir = mkdtempSync(path.join(os.tmpdir(), 'facepipe-stats-'));
  index = await EmbeddedFaceIndex.open(dir, { threads: 1 });
  await index.ensureCollection(C, 4);
});

afterAll(async () => {
  await index.close();
  rmSync(dir, { recursive: true, force: true });
  const keys = await redis.keys(`${PREFIX}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

const payload = (photoKey: string, personId: string): FacePayload => ({ photoKey, personId, kind: 'person' });
const counts = async () => redis.hgetall(`${PREFIX}:collection:${C}:stats`);

it('counts a photo whose faces were all erased, and a photo without faces, until the photo is erased, across a restart', async () => {
  const a = payload('a.jpg', 'P'), b = payload('b.jpg', 'Q');
  await index.upsert(C, [
    { id: 'c.f' + '1'.repeat(32), vector: Float32Array.of(1, 0, 0, 0), payload: a },
    { id: 'c.f' + '2'.repeat(32), vector: Float32Array.of(0, 1, 0, 0), payload: a },
    { id: 'c.f' + '3'.repeat(32), vector: Float32Array.of(0, 0, 1, 0), payload: b },
  ]);
  const stats = new CollectionStats(redis, PREFIX);
  await stats.load(index, C);
  await stats.replacePhoto(C, 'blank.jpg', [], [], 0); // a photo with no face
  expect(await counts()).toEqual({ photos: '3', faces: '3', people: '2' });

  // b.jpg's only face is erased (an identity erase): b.jpg is still a photo, with no face.
  await index.delete(C, { ids: ['c.f' + '3'.repeat(32)] });
  await stats.applyChanges(C, [b], []);
  expect(await counts()).toEqual({ photos: '3', faces: '2', people: '1' });

  // A matcher started again counts them from the index and the faceless set.
  const restarted = new CollectionStats(redis, PREFIX);
  await restarted.load(index, C);
  for (const key of ['a.jpg', 'b.jpg', 'blank.jpg']) expect(restarted.hasPhoto(C, key)).toBe(true);

  // A faceless photo that gets a face again leaves the set; an erased photo is gone.
  await restarted.replacePhoto(C, 'blank.jpg', [], ['R'], 1);
  expect(await restarted.removePhoto(C, 'b.jpg')).toBe(true);
  expect(await redis.smembers(`${PREFIX}:collection:${C}:faceless`)).toEqual([]);
  expect(await counts()).toEqual({ photos: '2', faces: '3', people: '2' });
  await restarted.forget(C);
  expect(await redis.keys(`${PREFIX}:collection:${C}:*`)).toEqual([]);
});
