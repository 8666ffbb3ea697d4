import { type PhotoSource, QUEUES, type SyncDetectJob, type SyncOp, type SyncRequest, type SyncResults } from '@facepipe/contracts';
import { Queues, ReplyWaiter, SYNC_JOB_OPTIONS, newRequestId } from '@facepipe/pipeline';
import { Injectable } from '@nestjs/common';
import { InjectConfig, type GatewayConfig } from '../config/gateway-config';

/** A call's parameters: the request without its id, which the service assigns. */
export type SyncParams<O extends SyncOp> = O extends SyncOp ? Omit<Extract<SyncRequest, { op: O }>, 'id'> : never;

export interface SyncCall<P extends SyncParams<SyncOp>> {
  /** The photo (photo `a` for verify). */
  source: PhotoSource;
  request: P;
  /** '' for the calls that touch no collection (detect, verify). */
  collection?: string;
  /** The photo key an enrolled face is stored under. */
  key?: string;
}

/**
 * Runs a synchronous call through the pipeline and waits for its answer: a detect job at
 * PRIORITY.sync that carries the request, answered through the reply channel by whichever stage
 * has the answer. No inference here. A worker's error comes back as a RequestError (422 NO_FACE…);
 * no answer within FACEPIPE_SYNC_TIMEOUT_MS is 504 REQUEST_TIMEOUT.
 */
@Injectable()
export class SyncCalls {
  constructor(
    private readonly queues: Queues,
    private readonly replies: ReplyWaiter,
    @InjectConfig() private readonly config: GatewayConfig,
  ) {}

  async run<P extends SyncParams<SyncOp>>(call: SyncCall<P>): Promise<SyncResults[P['op']]> {
    const id = newRequestId();
    const job: SyncDetectJob = {
      jobId: id,
      collection: call.collection ?? '',
      key: call.key ?? 'sync',
      source: call.source,
      request: { ...call.request, id, deadline: Date.now() + this.config.syncTimeoutMs } as SyncRequest,
    };
    // Wait first, then enqueue: a fast answer is not missed.
    const pending = await this.replies.expect<SyncResults[P['op']]>(id, this.config.syncTimeoutMs);
    try {
      await this.queues.get(QUEUES.detect).add(job.request.op, job, { ...SYNC_JOB_OPTIONS, jobId: id });
    } catch (err) {
      this.replies.cancel(id);
      throw err;
    }
    return pending.wait();
  }
}
