import { QUEUES, type QueueName } from '@facepipe/contracts';
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';

/**
 * Stage-to-stage jobs: five attempts with exponential backoff from 1 s ride out a Redis or model
 * hiccup; finished jobs are kept long enough to debug (a day, or 100k jobs) and failed ones a week.
 */
export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: { age: 86_400, count: 100_000 },
  removeOnFail: { age: 7 * 86_400 },
};

export interface QueueDepth {
  waiting: number;
  prioritized: number;
  active: number;
  delayed: number;
  failed: number;
}

/** The BullMQ queues of one process: created on first use, all on one shared connection. */
export class Queues {
  private readonly queues = new Map<QueueName, Queue>();

  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
  ) {}

  get(name: QueueName): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: this.prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS });
      this.queues.set(name, queue);
    }
    return queue;
  }

  /**
   * Per-queue counts by state. BullMQ 5 keeps jobs with a priority in their own sorted set, not in
   * the wait list, so they are reported apart (`prioritized`) — add both to see the backlog.
   * Jobs of a paused queue count as waiting.
   */
  async depths(): Promise<Record<QueueName, QueueDepth>> {
    const names = Object.values(QUEUES);
    const counts = await Promise.all(names.map((n) => this.get(n).getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed')));
    const out = {} as Record<QueueName, QueueDepth>;
    names.forEach((name, i) => {
      const c = counts[i];
      out[name] = {
        waiting: (c.waiting ?? 0) + (c.paused ?? 0),
        prioritized: c.prioritized ?? 0,
        active: c.active ?? 0,
        delayed: c.delayed ?? 0,
        failed: c.failed ?? 0,
      };
    });
    return out;
  }

  /** Closes the queues; the shared connection stays open (it belongs to the caller). */
  async close(): Promise<void> {
    const queues = [...this.queues.values()];
    this.queues.clear();
    await Promise.all(queues.map((q) => q.close()));
  }
}
