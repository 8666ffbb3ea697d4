import type { Redis } from 'ioredis';
import { enqueueWebhook, settlePhoto, webhookBackoffMs, webhookEventId } from './completion';
import { JobStore } from './job-store';
import { Queues } from './queues';
import { deleteKeys, jobWith, testRedis, uniquePrefix } from './test-support';

describe('completion', () => {
  const prefix = uniquePrefix('completion');
  let redis: Redis;
  let queues: Queues;
  let jobs: JobStore;

  beforeAll(() => {
    redis = testRedis();
    queues = new Queues(redis, prefix);
    jobs = new JobStore(redis, prefix, 7 * 86_400);
  });

  afterAll(async () => {
    await queues.close();
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  it('enqueues the webhook once, when the last photo settles', async () => {
    const id = await jobWith(jobs, { collection: 'c', sealed: true, webhook: { url: 'https://example.test/h' } }, ['a', 'b']);
    await settlePhoto(queues, jobs, id, { key: 'a', status: 'done', faces: [] });
    expect(await queues.get('notify').getJob(webhookEventId(id))).toBeUndefined();
    await settlePhoto(queues, jobs, id, { key: 'b', status: 'done', faces: [] });
    await settlePhoto(queues, jobs, id, { key: 'b', status: 'failed', faces: [] }); // a retry
    await enqueueWebhook(queues, jobs, id); // a second caller
    const notify = await queues.get('notify').getJobs(['waiting', 'delayed', 'prioritized']);
    expect(notify.map((j) => j.id)).toEqual([webhookEventId(id)]);
    expect(notify[0].data).toEqual({ jobId: id, eventId: webhookEventId(id) });
  });

  it('still enqueues the webhook when the stage died between completing the job and enqueuing', async () => {
    const id = await jobWith(jobs, { collection: 'c', sealed: true, webhook: { url: 'https://example.test/h' } }, ['a']);
    // The first attempt settled the last photo (the job completed) and was SIGKILLed before enqueuing.
    expect((await jobs.settlePhoto(id, { key: 'a', status: 'done', faces: [] })).completedNow).toBe(true);
    expect(await queues.get('notify').getJob(webhookEventId(id))).toBeUndefined();
    // Its retry settles the same photo again: no longer "completed now", yet the webhook must go out.
    await settlePhoto(queues, jobs, id, { key: 'a', status: 'done', faces: [] });
    expect((await queues.get('notify').getJob(webhookEventId(id)))?.data).toEqual({ jobId: id, eventId: webhookEventId(id) });
  });

  it('enqueues nothing for a job without a webhook', async () => {
    const id = await jobWith(jobs, { collection: 'c', sealed: true }, ['a']);
    await settlePhoto(queues, jobs, id, { key: 'a', status: 'done', faces: [] });
    expect(await queues.get('notify').getJob(webhookEventId(id))).toBeUndefined();
  });

  it('backs webhooks off exponentially up to an hour', () => {
    expect([1, 2, 3].map((n) => webhookBackoffMs(n))).toEqual([2000, 4000, 8000]);
    expect(webhookBackoffMs(40)).toBe(3_600_000);
  });
});
