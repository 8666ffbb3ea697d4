import type { Redis } from 'ioredis';

/**
 * Who uses each uploaded blob. Blobs are content-addressed (the same bytes uploaded as two photos,
 * or into two collections, are one file), so erasing a photo may delete its blob only when no other
 * photo refers to it. The gateway records a reference per (collection, photo key) when it accepts
 * an upload, and releases them when it erases the photo or the collection; a release answers the
 * blobs that nothing refers to any more, for the caller to delete.
 *
 * Keys: `<prefix>:collection:<c>:blobs` (hash: photo key → space-separated blob ids, every version
 * uploaded under that key) and `<prefix>:blob:<id>:refs` (set of `<c>\n<key>`). Each update is one
 * Lua script, so two erasures of photos sharing a blob cannot both miss the last reference.
 */

/** KEYS[1]: the collection's hash. ARGV: prefix, collection, then (photo key, blob id) pairs. */
const RECORD = `
for i = 3, #ARGV, 2 do
  local key, blob = ARGV[i], ARGV[i + 1]
  local list = redis.call('HGET', KEYS[1], key) or ''
  if not string.find(' ' .. list .. ' ', ' ' .. blob .. ' ', 1, true) then
    redis.call('HSET', KEYS[1], key, (list == '' and blob) or (list .. ' ' .. blob))
  end
  redis.call('SADD', ARGV[1] .. ':blob:' .. blob .. ':refs', ARGV[2] .. '\\n' .. key)
end
return 1
`;

/**
 * KEYS[1]: the collection's hash. ARGV: prefix, collection, then photo keys. Drops the keys'
 * references; returns the blob ids left without any.
 */
const RELEASE = `
local orphans = {}
for i = 3, #ARGV do
  local key = ARGV[i]
  local list = redis.call('HGET', KEYS[1], key)
  if list then
    redis.call('HDEL', KEYS[1], key)
    for blob in string.gmatch(list, '%S+') do
      local refs = ARGV[1] .. ':blob:' .. blob .. ':refs'
      redis.call('SREM', refs, ARGV[2] .. '\\n' .. key)
      if redis.call('SCARD', refs) == 0 then orphans[#orphans + 1] = blob end
    end
  end
end
return orphans
`;

interface BlobRefsCommands {
  facepipeBlobRefsRecord(hash: string, ...args: string[]): Promise<number>;
  facepipeBlobRefsRelease(hash: string, ...args: string[]): Promise<string[]>;
}

const BATCH = 500;

export class BlobRefs {
  private readonly redis: Redis & BlobRefsCommands;

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    redis.defineCommand('facepipeBlobRefsRecord', { numberOfKeys: 1, lua: RECORD });
    redis.defineCommand('facepipeBlobRefsRelease', { numberOfKeys: 1, lua: RELEASE });
    this.redis = redis as Redis & BlobRefsCommands;
  }

  private hashOf(collection: string): string {
    return `${this.prefix}:collection:${collection}:blobs`;
  }

  /** Photo `key` of `collection` is (a version of) blob `blobId`. */
  async record(collection: string, refs: { key: string; blobId: string }[]): Promise<void> {
    for (let i = 0; i < refs.length; i += BATCH) {
      const args = refs.slice(i, i + BATCH).flatMap((r) => [r.key, r.blobId]);
      await this.redis.facepipeBlobRefsRecord(this.hashOf(collection), this.prefix, collection, ...args);
    }
  }

  /** True while any photo refers to the blob (its refs set is removed with the last reference). */
  async isReferenced(blobId: string): Promise<boolean> {
    return (await this.redis.exists(`${this.prefix}:blob:${blobId}:refs`)) === 1;
  }

  /** The blobs recorded for a photo (every uploaded version), oldest first. */
  async blobsOf(collection: string, key: string): Promise<string[]> {
    const list = await this.redis.hget(this.hashOf(collection), key);
    return list ? list.split(' ') : [];
  }

  /** Releases the photos' references; answers the blob ids nothing refers to any more. */
  async release(collection: string, keys: string[]): Promise<string[]> {
    const orphans: string[] = [];
    for (let i = 0; i < keys.length; i += BATCH) {
      orphans.push(...(await this.redis.facepipeBlobRefsRelease(this.hashOf(collection), this.prefix, collection, ...keys.slice(i, i + BATCH))));
    }
    return orphans;
  }

  /** Releases every reference of the collection; answers the orphaned blob ids. */
  async releaseCollection(collection: string): Promise<string[]> {
    const orphans: string[] = [];
    const hash = this.hashOf(collection);
    // HSCAN returns every field present for the whole scan, even while the loop removes fields.
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(hash, cursor, 'COUNT', BATCH);
      cursor = next;
      const keys = flat.filter((_, i) => i % 2 === 0);
      if (keys.length > 0) orphans.push(...(await this.release(collection, keys)));
    } while (cursor !== '0');
    await this.redis.del(hash);
    return orphans;
  }
}
