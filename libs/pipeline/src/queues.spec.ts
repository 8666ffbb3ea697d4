import type { Redis } from 'ioredis';
import { DEFAULT_JOB_OPTIONS, Queues } from './queues';
import { deleteKeys, testRedis, uniquePrefix } from './test-support';

describe('Queues', () => {
  const prefix = uniquePrefix('queues');
  let redis: Redis;
  let queues: Queues;

  beforeAll(() => {
    redis = testRedis();
    queues = new Queues(redis, prefix);
  });

  afterAll(async () => {
    await queues.close();
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  it('creates one queue per name under the prefix', async () => {
    expect(queues.get('detect')).toBe(queues.get('detect'));
    expect(queues.get('detect').opts.prefix).toBe(prefix);
    await queues.get('embed').add('x', { a: 1 });
    expect(await redis.exists(`${prefix}:embed:meta`)).toBe(1);
  });

  it('counts prioritized jobs apart from the wait list', async () => {
    const detect = queues.get('detect');
    await detect.add('plain', { i: 1 });
    await detect.add('plain', { i: 2 });
    await detect.add('sync', { i: 3 }, { priority: 1 });
    await detect.add('bulk', { i: 4 }, { priority: 10 });
    await detect.add('bulk', { i: 5 }, { priority: 10 });
    await detect.add('later', { i: 6 }, { delay: 60_000 });
    const depths = await queues.depths();
    expect(depths.detect).toEqual({ waiting: 2, prioritized: 3, active: 0, delayed: 1, failed: 0 });
    expect(depths.match).toEqual({ waiting: 0, prioritized: 0, active: 0, delayed: 0, failed: 0 });
    expect(Object.keys(depths).sort()).toEqual(['detect', 'embed', 'index', 'match', 'notify']);
    // BullMQ 5 keeps prioritized jobs out of the wait list: counting only `bull:<q>:wait` misses them.
    expect(await redis.llen(`${prefix}:detect:wait`)).toBe(2);
  });

  it('applies the default job options', async () => {
    const job = await queues.get('match').add('m', {});
    expect(job.opts).toMatchObject({ attempts: 5, backoff: { type: 'exponential', delay: 1000 } });
    expect(DEFAULT_JOB_OPTIONS.removeOnFail).toEqual({ age: 7 * 86_400 });
  });
});
