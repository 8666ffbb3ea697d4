import { Injectable } from '@nestjs/common';
import { Redis } from 'ioredis';
import { InjectConfig, type GatewayConfig } from '../config/gateway-config';

/** Names whose DELETE has started and not finished (see erase.service): not free for a new collection. */
export function deletingCollectionsKey(prefix: string): string {
  return `${prefix}:collections:deleting`;
}

export interface CollectionRecord {
  createdAt: string;
  /** The match threshold of 1:N search, when set (PATCH); absent means the default. */
  threshold?: number;
}

/**
 * Replaces a registered collection's record if it is still the one read (compare and set), so a
 * PATCH can neither bring back a collection deleted meanwhile nor undo a concurrent change.
 * Returns 1 when replaced, 0 when the record changed (read again), -1 when it is gone.
 */
const REPLACE_RECORD = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return -1 end
if current ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`;

type ReplaceRecordCommand = { facepipeReplaceCollection(key: string, name: string, expected: string, next: string): Promise<number> };

export interface StoredStats {
  photos: number;
  faces: number;
  people: number;
}

/**
 * The collection registry (`<prefix>:collections`: name → JSON {createdAt}) and the per-collection
 * counts the matcher-worker publishes (`<prefix>:collection:<name>:stats`). No logic beyond Redis.
 */
@Injectable()
export class CollectionsRepository {
  private readonly registryKey: string;

  constructor(
    private readonly redis: Redis,
    @InjectConfig() private readonly config: GatewayConfig,
  ) {
    this.registryKey = `${config.prefix}:collections`;
  }

  /** Atomically registers a name; false when it exists already. */
  async create(name: string, record: CollectionRecord): Promise<boolean> {
    return (await this.redis.hsetnx(this.registryKey, name, JSON.stringify(record))) === 1;
  }

  async get(name: string): Promise<CollectionRecord | null> {
    const raw = await this.redis.hget(this.registryKey, name);
    return raw === null ? null : (JSON.parse(raw) as CollectionRecord);
  }

  /** A DELETE of the collection has not finished yet (see erase.service): its name is not free. */
  async isDeleting(name: string): Promise<boolean> {
    return (await this.redis.sismember(deletingCollectionsKey(this.config.prefix), name)) === 1;
  }

  /** Every collection whose DELETE has started and not finished. */
  async deleting(): Promise<string[]> {
    return this.redis.smembers(deletingCollectionsKey(this.config.prefix));
  }

  /** Every registered collection's name. */
  async names(): Promise<string[]> {
    return this.redis.hkeys(this.registryKey);
  }

  /** Applies `change` to the record atomically (retrying on a concurrent change); null when there is no such collection. */
  async update(name: string, change: (record: CollectionRecord) => CollectionRecord): Promise<CollectionRecord | null> {
    const redis = this.redis as Redis & ReplaceRecordCommand;
    if (!redis.facepipeReplaceCollection) redis.defineCommand('facepipeReplaceCollection', { numberOfKeys: 1, lua: REPLACE_RECORD });
    for (;;) {
      const raw = await this.redis.hget(this.registryKey, name);
      if (raw === null) return null;
      const next = change(JSON.parse(raw) as CollectionRecord);
      const done = await redis.facepipeReplaceCollection(this.registryKey, name, raw, JSON.stringify(next));
      if (done === 1) return next;
      if (done === -1) return null;
    }
  }

  async exists(name: string): Promise<boolean> {
    return (await this.redis.hexists(this.registryKey, name)) === 1;
  }

  /** Missing fields (nothing matched yet) read as 0. */
  async stats(name: string): Promise<StoredStats> {
    const [photos, faces, people] = await this.redis.hmget(`${this.config.prefix}:collection:${name}:stats`, 'photos', 'faces', 'people');
    return { photos: count(photos), faces: count(faces), people: count(people) };
  }
}

function count(v: string | null): number {
  const n = Number(v ?? 0);
  return Number.isFinite(n) && n > 0 ? Math.trunc(n) : 0;
}
