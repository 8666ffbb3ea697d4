import { Injectable } from '@nestjs/common';
import { Redis } from 'ioredis';
import { InjectConfig, type GatewayConfig } from '../config/gateway-config';
import type { KeyView } from './keys.schemas';

/** Deletes a key's two entries atomically; 1 when it existed. */
const REVOKE_KEY = `
local digest = redis.call('HGET', KEYS[1], ARGV[1])
if not digest then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], digest)
return 1
`;

type KeysCommands = { facepipeRevokeKey(ids: string, byDigest: string, id: string): Promise<number> };

/**
 * Issued API keys in Redis, stored by the sha256 of the key, never the key itself:
 * - `<prefix>:apikeys:by-digest`: hex sha256(key) → JSON {id, collections, scopes, pathRoots, createdAt}
 *   (one HGET authenticates a request; no cache, so a revocation counts at once on every replica);
 * - `<prefix>:apikeys:ids`: id → hex sha256(key), for listing and revoking.
 */
@Injectable()
export class KeysRepository {
  private readonly byDigestKey: string;
  private readonly idsKey: string;
  private readonly redis: Redis & KeysCommands;

  constructor(redis: Redis, @InjectConfig() config: GatewayConfig) {
    this.byDigestKey = `${config.prefix}:apikeys:by-digest`;
    this.idsKey = `${config.prefix}:apikeys:ids`;
    redis.defineCommand('facepipeRevokeKey', { numberOfKeys: 2, lua: REVOKE_KEY });
    this.redis = redis as Redis & KeysCommands;
  }

  async create(digest: string, record: KeyView): Promise<void> {
    await this.redis.multi().hset(this.byDigestKey, digest, JSON.stringify(record)).hset(this.idsKey, record.id, digest).exec();
  }

  async findByDigest(digest: string): Promise<KeyView | null> {
    const raw = await this.redis.hget(this.byDigestKey, digest);
    return raw === null ? null : parseRecord(raw);
  }

  async list(): Promise<KeyView[]> {
    const digests = await this.redis.hvals(this.idsKey);
    if (digests.length === 0) return [];
    const raws = await this.redis.hmget(this.byDigestKey, ...digests);
    return raws.filter((r): r is string => r !== null).map(parseRecord);
  }

  /** True when the key existed. */
  async revoke(id: string): Promise<boolean> {
    return (await this.redis.facepipeRevokeKey(this.idsKey, this.byDigestKey, id)) === 1;
  }
}

/** A stored key; one stored before keys had `pathRoots` has none (path sources are the admin key's alone then). */
function parseRecord(raw: string): KeyView {
  const record = JSON.parse(raw) as Omit<KeyView, 'pathRoots'> & { pathRoots?: string[] };
  return { ...record, pathRoots: record.pathRoots ?? [] };
}
