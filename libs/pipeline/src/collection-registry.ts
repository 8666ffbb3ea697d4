import { collectionsKey } from '@facepipe/contracts';
import type { Redis } from 'ioredis';
import type { JobStore } from './job-store';

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

  /**
   * The registry record of the collection a photo of batch job `jobId` belongs to, or null when
   * that collection is gone: the photo must not be worked on. The name alone is not enough: a
   * collection deleted and created again at once is registered while its predecessor's photos are
   * still in flight, and those must not land in the new one. Their job records were erased with the
   * old collection (a job in progress has no expiry), so the job check refuses them, whatever the
   * clocks say.
   */
  async recordOfPhoto(collection: string, jobId: string, jobs: JobStore): Promise<{ createdAt?: string } | null> {
    const res = await this.redis.multi().hget(collectionsKey(this.prefix), collection).hget(jobs.keys(jobId).meta, 'collection').exec();
    const [[recordErr, record], [ownerErr, owner]] = res as [[Error | null, string | null], [Error | null, string | null]];
    if (recordErr || ownerErr) throw recordErr ?? ownerErr;
    if (record === null || owner !== collection) return null;
    return { createdAt: createdAtOf(record) };
  }
}

/** A registry record's creation time (what tells a collection from a namesake), if it has one. */
export function createdAtOf(raw: string): string | undefined {
  try {
    const createdAt = (JSON.parse(raw) as { createdAt?: unknown }).createdAt;
    return typeof createdAt === 'string' ? createdAt : undefined;
  } catch {
    return undefined;
  }
}
