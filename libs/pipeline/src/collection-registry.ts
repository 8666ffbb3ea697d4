import { collectionsKey } from '@facepipe/contracts';
import type { Redis } from 'ioredis';

/**
 * The collection registry the gateway keeps (`<prefix>:collections`). The detector and the matcher
 * ask it before working on a photo: a collection deleted while its photos were in flight must not
 * come back through them.
 */
export class CollectionRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async exists(collection: string): Promise<boolean> {
    return (await this.redis.hexists(collectionsKey(this.prefix), collection)) === 1;
  }
}
