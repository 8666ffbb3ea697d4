import { RequestError, ReplyWaiter, newRequestId, sendReply } from './replies';
import { PipelineError } from './pipeline-error';
import { errorReply } from './replies';
import { createRedis } from './redis';
import type { Redis } from 'ioredis';
import { hasRedisServer, startPrivateRedis } from '@facepipe/testing';

const prefix = `fp-test-replies-${process.pid}-${Date.now()}`;
let redis: Redis;
let waiter: ReplyWaiter;

beforeAll(() => {
  redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', 'replies-test');
  waiter = new ReplyWaiter(redis, prefix);
});
afterAll(async () => {
  await waiter.close();
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

describe('replies', () => {
  it('delivers a result sent after the waiter registered', async () => {
    const id = newRequestId();
    const pending = await waiter.expect<{ n: number }>(id, 5_000);
    setTimeout(() => void sendReply(redis, prefix, id, { ok: true, result: { n: 42 } }), 20);
    await expect(pending.wait()).resolves.toEqual({ n: 42 });
    // The reply is consumed: nothing is left in Redis.
    expect(await redis.exists(`${prefix}:reply:${id}`)).toBe(0);
  });

  it('re-throws a worker error with its code and status', async () => {
    const id = newRequestId();
    const pending = await waiter.expect(id, 5_000);
    await sendReply(redis, prefix, id, errorReply(new RequestError(422, 'NO_FACE', 'no face in photo a')));
    const err = await pending.wait().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestError);
    expect(err).toMatchObject({ status: 422, code: 'NO_FACE', message: 'no face in photo a' });
  });

  it('keeps the status of a PipelineError and hides nothing but unknown errors as 500', () => {
    expect(errorReply(new PipelineError('URL_NOT_ALLOWED', 'private address'))).toEqual({
      ok: false,
      error: { code: 'URL_NOT_ALLOWED', message: 'private address', status: 400 },
    });
    expect(errorReply(new Error('boom'))).toMatchObject({ ok: false, error: { code: 'INTERNAL_ERROR', status: 500 } });
  });

  it('understands a bare announcement (workers of an earlier version): it reads the stored reply', async () => {
    const id = newRequestId();
    const pending = await waiter.expect<string>(id, 5_000);
    await redis.multi().set(`${prefix}:reply:${id}`, JSON.stringify({ ok: true, result: 'bare' }), 'EX', 60).publish(`${prefix}:replies`, id).exec();
    await expect(pending.wait()).resolves.toBe('bare');
    expect(await redis.exists(`${prefix}:reply:${id}`)).toBe(0);
  });

  it('finds a reply whose announcement it missed, at the deadline', async () => {
    const id = newRequestId();
    // Stored without the pub/sub announcement, as if the subscriber was reconnecting.
    await redis.set(`${prefix}:reply:${id}`, JSON.stringify({ ok: true, result: 'late' }), 'EX', 60);
    const pending = await waiter.expect<string>(id, 100);
    await expect(pending.wait()).resolves.toBe('late');
  });

  it('times out with 504 REQUEST_TIMEOUT when no reply comes', async () => {
    const id = newRequestId();
    const started = Date.now();
    const pending = await waiter.expect(id, 150);
    await expect(pending.wait()).rejects.toMatchObject({ status: 504, code: 'REQUEST_TIMEOUT' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  (hasRedisServer() ? it : it.skip)('times out at its deadline even while Redis is down (the read of the reply would wait for Redis)', async () => {
    const privateRedis = await startPrivateRedis();
    const own = createRedis(privateRedis.url, 'replies-outage-test');
    const ownWaiter = new ReplyWaiter(own, prefix);
    try {
      const pending = await ownWaiter.expect(newRequestId(), 1_000);
      await privateRedis.stop(); // commands now wait in the connection's offline queue
      const started = Date.now();
      await expect(pending.wait()).rejects.toMatchObject({ status: 504, code: 'REQUEST_TIMEOUT' });
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await ownWaiter.close();
      own.disconnect();
      await privateRedis.stop().catch(() => undefined);
    }
  });

  it('ignores replies to requests nobody waits for, and serves many waiters at once', async () => {
    await sendReply(redis, prefix, newRequestId(), { ok: true, result: 'stray' });
    const ids = Array.from({ length: 50 }, () => newRequestId());
    const pendings = await Promise.all(ids.map((id) => waiter.expect<string>(id, 5_000)));
    await Promise.all(ids.map((id) => sendReply(redis, prefix, id, { ok: true, result: id })));
    await expect(Promise.all(pendings.map((p) => p.wait()))).resolves.toEqual(ids);
  });
});
