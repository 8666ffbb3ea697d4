import { Injectable } from '@nestjs/common';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { InjectConfig, type GatewayConfig } from '../config/gateway-config';

export interface IdentityRecord {
  id: string;
  name: string;
  createdAt: string;
}

/**
 * The identity records that naming a person creates or attaches to. Stored where the identities
 * feature keeps them: `<prefix>:collection:<c>:identities` (hash: identity id → JSON record).
 */
@Injectable()
export class IdentityRecords {
  constructor(
    private readonly redis: Redis,
    @InjectConfig() private readonly config: GatewayConfig,
  ) {}

  private keyOf(collection: string): string {
    return `${this.config.prefix}:collection:${collection}:identities`;
  }

  async exists(collection: string, identityId: string): Promise<boolean> {
    return (await this.redis.hexists(this.keyOf(collection), identityId)) === 1;
  }

  async create(collection: string, name: string): Promise<IdentityRecord> {
    for (;;) {
      const record = { id: `i${randomBytes(12).toString('hex')}`, name, createdAt: new Date().toISOString() };
      if ((await this.redis.hsetnx(this.keyOf(collection), record.id, JSON.stringify(record))) === 1) return record;
    }
  }

  async remove(collection: string, identityId: string): Promise<void> {
    await this.redis.hdel(this.keyOf(collection), identityId);
  }
}
