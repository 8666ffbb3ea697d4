import { Injectable } from '@nestjs/common';
import { Redis } from 'ioredis';
import { InjectConfig, type GatewayConfig } from '../config/gateway-config';

export interface CollectionRecord {
  createdAt: string;
}

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
