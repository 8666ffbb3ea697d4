// Helpers for this library's specs (not exported from index.ts). Specs talk to a real Redis, each
// run under its own key prefix, and delete only their own keys afterwards.
import { Redis } from 'ioredis';
import net from 'node:net';
import type { CreateJobInput, JobStore } from './job-store';

export function testRedisUrl(): string {
  return process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
}

export function uniquePrefix(tag: string): string {
  return `facepipe-test-${process.pid}-${Date.now()}-${tag}-${Math.random().toString(36).slice(2, 8)}`;
}

export function testRedis(url = testRedisUrl()): Redis {
  return new Redis(url, { maxRetriesPerRequest: null });
}

/** Deletes every key under `prefix:` (SCAN, never FLUSHDB: the Redis may be shared). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** A TCP port that was free a moment ago (for servers that cannot be told "any port"). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, stepMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/**
 * A job holding `keys`, made the way the gateway makes one: created open, the photos added (and
 * marked queued, as if enqueued), then sealed when `input.sealed`. Returns its id.
 */
export async function jobWith(store: JobStore, input: CreateJobInput, keys: string[]): Promise<string> {
  const { id } = await store.create({ ...input, sealed: false });
  const { token } = await store.addPhotos(id, keys);
  if (token) await store.markQueued(token);
  if (input.sealed) await store.seal(id);
  return id;
}
