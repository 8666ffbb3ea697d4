import { type PhotoSource, QUEUES, type SyncDetectJob, type SyncOp, type SyncRequest, type SyncResults } from '@facepipe/contracts';
import { BlobStore, PhotoFetcher, Queues, ReplyWaiter, SYNC_JOB_OPTIONS, newRequestId, syncFetchTimeoutMs } from '@facepipe/pipeline';
import { Injectable } from '@nestjs/common';
import { storageFull } from '../common/storage-full';
import { GatewayLogger } from '../common/gateway-logger';
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
 *
 * A `url` source is fetched here, into a private blob the call deletes once answered, within the
 * caller's time: a slow or stalled server then costs the gateway an idle socket, not a detector
 * slot every other caller waits for (detectors run two at a time). The same address checks apply
 * as in the detector, which still fetches the URLs of batch ingest.
 */
@Injectable()
export class SyncCalls {
  private readonly fetcher: PhotoFetcher;

  constructor(
    private readonly queues: Queues,
    private readonly replies: ReplyWaiter,
    private readonly blobs: BlobStore,
    private readonly logger: GatewayLogger,
    @InjectConfig() private readonly config: GatewayConfig,
  ) {
    this.fetcher = new PhotoFetcher({
      blobs,
      pathRoots: [], // paths are the detectors' files, read there
      allowPrivateUrls: config.allowPrivateUrls,
      maxBytes: config.maxPhotoBytes,
      timeoutMs: config.fetchTimeoutMs,
    });
  }

  async run<P extends SyncParams<SyncOp>>(call: SyncCall<P>): Promise<SyncResults[P['op']]> {
    const id = newRequestId();
    const deadline = Date.now() + this.config.syncTimeoutMs;
    const fetched: string[] = [];
    try {
      const source = await this.fetchUrl(call.source, deadline, fetched);
      const request = { ...call.request, id, deadline } as SyncRequest;
      if (request.op === 'verify') request.b = await this.fetchUrl(request.b, deadline, fetched);
      const job: SyncDetectJob = { jobId: id, collection: call.collection ?? '', key: call.key ?? 'sync', source, request };
      // Wait first, then enqueue: a fast answer is not missed.
      const pending = await this.replies.expect<SyncResults[P['op']]>(id, Math.max(1, deadline - Date.now()));
      try {
        await this.queues.get(QUEUES.detect).add(job.request.op, job, { ...SYNC_JOB_OPTIONS, jobId: id });
      } catch (err) {
        this.replies.cancel(id);
        throw err;
      }
      return await pending.wait();
    } finally {
      for (const blobId of fetched) {
        await this.blobs.delete(blobId).catch((err: unknown) => this.logger.warn('could not delete a fetched photo', { error: err instanceof Error ? err.message : String(err) }));
      }
    }
  }

  /** A URL source as a private blob of its bytes (listed in `fetched`); other sources as they are. */
  private async fetchUrl(source: PhotoSource, deadline: number, fetched: string[]): Promise<PhotoSource> {
    if (source.kind !== 'url') return source;
    // Streamed to disk as it arrives: a gateway holds no photo in memory, however many calls fetch at once.
    const { blobId, sha256 } = await this.fetcher.fetchToBlob(source, { timeoutMs: syncFetchTimeoutMs(deadline, this.config.fetchTimeoutMs) }).catch((err: unknown) => {
      throw storageFull(err, this.logger) ?? err;
    });
    fetched.push(blobId);
    return { kind: 'blob', blobId, sha256 };
  }
}
