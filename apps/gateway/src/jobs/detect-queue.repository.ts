import { PRIORITY, QUEUES, photoJobId, type DetectJob } from '@facepipe/contracts';
import { DEFAULT_JOB_OPTIONS, Queues } from '@facepipe/pipeline';
import { Injectable } from '@nestjs/common';
import type { Job, Queue } from 'bullmq';
import type { PhotoToAdd } from './photo-submission';

const ADD_CHUNK = 1_000;

/** What became of each photo of an enqueue call. */
export interface EnqueueOutcome {
  /** New detect jobs (including re-runs of finished ones). */
  added: number;
  /** Already waiting for this same job with the same source: left as they were. */
  kept: number;
  /** Waiting photos of another job that this submission replaced; that job must settle them. */
  superseded: { jobId: string; key: string }[];
  /** Being processed right now for another job: cannot be replaced. */
  inFlight: { key: string; jobId: string }[];
}

/**
 * The detect queue as the gateway sees it: one BullMQ job per (collection, key), with the
 * deterministic id photoJobId(collection, key), so a re-submitted photo replaces itself:
 * a finished job with that id is removed and added again, a waiting one is replaced.
 */
@Injectable()
export class DetectQueueRepository {
  constructor(private readonly queues: Queues) {}

  private get queue(): Queue {
    return this.queues.get(QUEUES.detect);
  }

  async enqueue(jobId: string, collection: string, photos: PhotoToAdd[]): Promise<EnqueueOutcome> {
    const queue = this.queue;
    const entries = photos.map((p) => ({
      id: photoJobId(collection, p.key),
      data: { jobId, collection, key: p.key, source: p.source } satisfies DetectJob,
    }));
    const states = await Promise.all(entries.map((e) => queue.getJobState(e.id)));
    const outcome: EnqueueOutcome = { added: 0, kept: 0, superseded: [], inFlight: [] };
    const toAdd: typeof entries = [];

    await Promise.all(
      entries.map(async (entry, i) => {
        const state = states[i];
        if (state === 'unknown') {
          toAdd.push(entry);
          return;
        }
        if (state === 'completed' || state === 'failed') {
          if ((await queue.remove(entry.id)) === 1) toAdd.push(entry);
          else outcome.inFlight.push({ key: entry.data.key, jobId: (await queue.getJob(entry.id))?.data?.jobId ?? 'unknown' });
          return;
        }
        const existing = (await queue.getJob(entry.id)) as Job<DetectJob> | undefined;
        if (!existing) {
          toAdd.push(entry); // finished and removed in the meantime
          return;
        }
        const owner = existing.data?.jobId;
        if (state === 'active') {
          if (owner === jobId) outcome.kept++;
          else outcome.inFlight.push({ key: entry.data.key, jobId: owner });
          return;
        }
        // waiting, prioritized, delayed (a retry), waiting-children
        if (owner === jobId && sameSource(existing.data, entry.data)) {
          outcome.kept++;
          return;
        }
        if ((await queue.remove(entry.id)) !== 1) {
          // Picked up by a worker between our reads: now it is in flight.
          if (owner === jobId) outcome.kept++;
          else outcome.inFlight.push({ key: entry.data.key, jobId: owner });
          return;
        }
        if (owner !== jobId) outcome.superseded.push({ jobId: owner, key: existing.data.key });
        toAdd.push(entry);
      }),
    );

    for (let i = 0; i < toAdd.length; i += ADD_CHUNK) {
      await queue.addBulk(
        toAdd.slice(i, i + ADD_CHUNK).map((e) => ({
          name: 'detect',
          data: e.data,
          opts: { ...DEFAULT_JOB_OPTIONS, jobId: e.id, priority: PRIORITY.bulk },
        })),
      );
    }
    outcome.added = toAdd.length;
    return outcome;
  }
}

function sameSource(a: DetectJob, b: DetectJob): boolean {
  return JSON.stringify(a.source) === JSON.stringify(b.source);
}
