import type { Redis } from 'ioredis';
import { BlobRefs } from './blob-refs';
import { deleteKeys, testRedis, uniquePrefix } from './test-support';

const A = 'a'.repeat(64), B = 'b'.repeat(64), C = 'c'.repeat(64);

describe('BlobRefs (real Redis)', () => {
  let redis: Redis;
  let prefix: string;
  let refs: BlobRefs;

  beforeEach(() => {
    redis = testRedis();
    prefix = uniquePrefix('blobrefs');
    refs = new BlobRefs(redis, prefix);
  });

  afterEach(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  it('orphans a blob only when its last photo, in any collection, is released', async () => {
    await refs.record('x', [{ key: 'one', blobId: A }, { key: 'two', blobId: A }]);
    await refs.record('y', [{ key: 'one', blobId: A }]);
    expect(await refs.release('x', ['one'])).toEqual([]);
    expect(await refs.release('y', ['one'])).toEqual([]);
    expect(await refs.release('x', ['two'])).toEqual([A]);
    expect(await refs.release('x', ['two'])).toEqual([]); // released twice: nothing more
  });

  it('keeps every version uploaded under a key, and releases them together', async () => {
    await refs.record('x', [{ key: 'k', blobId: A }]);
    await refs.record('x', [{ key: 'k', blobId: B }, { key: 'k', blobId: A }]);
    expect(await refs.blobsOf('x', 'k')).toEqual([A, B]);
    expect((await refs.release('x', ['k'])).sort()).toEqual([A, B]);
    expect(await refs.blobsOf('x', 'k')).toEqual([]);
  });

  it('releases a whole collection, leaving blobs other collections use', async () => {
    const many = Array.from({ length: 1200 }, (_, i) => ({ key: `p${i}`, blobId: i % 2 ? B : C }));
    await refs.record('x', [...many, { key: 'shared', blobId: A }]);
    await refs.record('y', [{ key: 'mine', blobId: A }]);
    expect((await refs.releaseCollection('x')).sort()).toEqual([B, C]);
    expect(await redis.exists(`${prefix}:collection:x:blobs`)).toBe(0);
    expect(await refs.release('y', ['mine'])).toEqual([A]);
  });
});
