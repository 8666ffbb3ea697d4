import { type IndexJob, type IndexOp, type IndexOpResults, PRIORITY, QUEUES } from '@facepipe/contracts';
import { DEFAULT_JOB_OPTIONS, Queues, ReplyWaiter, newRequestId } from '@facepipe/pipeline';
import { Injectable } from '@nestjs/common';

/** Long enough for an operation over a big person or photo, short enough that a stuck matcher shows. */
export const INDEX_OP_TIMEOUT_MS = 30_000;

/** The answer type of an operation, by its `type`. */
export type IndexOpResult<O extends IndexOp> = IndexOpResults[O['type']];

/**
 * Runs an operation on the face index in the matcher-worker (its only writer) and waits for the
 * answer: the job goes on the index queue at the synchronous priority and the reply comes back
 * through the ReplyWaiter. A worker's error (404 PERSON_NOT_FOUND…) is re-thrown as a
 * RequestError, which the API answers as it is; no answer in time is 504 REQUEST_TIMEOUT.
 */
@Injectable()
export class IndexOpsClient {
  constructor(
    private readonly queues: Queues,
    private readonly replies: ReplyWaiter,
  ) {}

  async call<O extends IndexOp>(collection: string, op: O, timeoutMs = INDEX_OP_TIMEOUT_MS): Promise<IndexOpResult<O>> {
    const requestId = newRequestId();
    // Wait first, then enqueue: an instant reply is not missed.
    const pending = await this.replies.expect<IndexOpResult<O>>(requestId, timeoutMs);
    try {
      await this.enqueue({ requestId, collection, op }, PRIORITY.sync);
    } catch (err) {
      this.replies.cancel(requestId);
      throw err;
    }
    return pending.wait();
  }

  /** Enqueues without waiting (recluster: its progress is a status record, not a reply). */
  async enqueue(job: IndexJob, priority: number = PRIORITY.bulk): Promise<void> {
    // One attempt: a retried write would answer a request nobody waits for any more, and the
    // operations are cheap to ask again. The job id is the request id, so a double add is a no-op.
    await this.queues.get(QUEUES.index).add(job.op.type, job, { ...DEFAULT_JOB_OPTIONS, attempts: 1, jobId: job.requestId, priority });
  }
}
