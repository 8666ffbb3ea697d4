import { type JobView, type PhotoResult, jobViewSchema } from '@facepipe/contracts';
import { BlobRefs, JobStore, Queues, sealJob, settlePhoto } from '@facepipe/pipeline';
import { Injectable } from '@nestjs/common';
import { ApiError } from '../common/api-error';
import { GatewayLogger } from '../common/gateway-logger';
import { CollectionsService } from '../collections/collections.service';
import { DetectQueueRepository } from './detect-queue.repository';
import { jobIdSchema } from './jobs.schemas';
import type { PhotoToAdd, Submission } from './photo-submission';

/**
 * Batch jobs: create one for a submission, add photos to an open one, seal it, read it. A photo is
 * counted on its job before its detect job exists, so no worker can settle a key the job does
 * not know yet.
 */
@Injectable()
export class JobsService {
  constructor(
    private readonly jobs: JobStore,
    private readonly queues: Queues,
    private readonly detect: DetectQueueRepository,
    private readonly collections: CollectionsService,
    private readonly logger: GatewayLogger,
    private readonly blobRefs: BlobRefs,
  ) {}

  /** POST /v1/collections/{name}/photos */
  async submit(collection: string, submission: Submission): Promise<{ jobId: string }> {
    await this.collections.assertExists(collection);
    // Created open: photos are added first, then the job is sealed (addPhotos refuses a sealed job).
    const view = await this.jobs.create({ collection, sealed: false, webhook: submission.webhook });
    await this.addAndEnqueue(view.id, collection, submission.photos);
    if (submission.seal) await this.sealAndNotify(view.id);
    // The id goes out with this answer. A gateway dying (or failing) before this line leaves a job
    // nobody knows of: InterruptedSubmissionSweep seals it, so it completes and expires.
    await this.jobs.markAnswered(view.id);
    this.logger.info('job submitted', { jobId: view.id, collection, photos: submission.photos.length, sealed: submission.seal });
    return { jobId: view.id };
  }

  /** POST /v1/jobs/{id}/photos */
  async add(jobId: string, submission: Submission): Promise<{ jobId: string }> {
    const view = await this.openJob(jobId);
    await this.addAndEnqueue(jobId, view.collection, submission.photos);
    if (submission.seal) await this.sealAndNotify(jobId);
    this.logger.info('photos added', { jobId, photos: submission.photos.length, sealed: submission.seal });
    return { jobId };
  }

  /** POST /v1/jobs/{id}/seal: idempotent; fires the webhook when everything had settled already. */
  async seal(jobId: string): Promise<JobView> {
    await this.get(jobId);
    return this.sealAndNotify(jobId);
  }

  async get(jobId: string): Promise<JobView> {
    const view = jobIdSchema.safeParse(jobId).success ? await this.jobs.get(jobId) : null;
    if (!view) throw jobNotFound(jobId);
    // Re-parse: only the contract's fields leave the gateway (never a webhook secret).
    return jobViewSchema.parse(view);
  }

  async results(jobId: string, opts: { cursor?: string; limit: number }): Promise<{ items: PhotoResult[]; next?: string }> {
    await this.get(jobId);
    const page = await this.jobs.results(jobId, opts);
    return page.next ? { items: page.items, next: page.next } : { items: page.items };
  }

  /** The job, if it exists and still takes photos (404 JOB_NOT_FOUND, 409 JOB_SEALED). */
  async openJob(jobId: string): Promise<JobView> {
    const view = await this.get(jobId);
    if (view.sealed) throw ApiError.conflict('JOB_SEALED', `Job ${jobId} is sealed and takes no more photos`);
    return view;
  }

  private async sealAndNotify(jobId: string): Promise<JobView> {
    return jobViewSchema.parse(await sealJob(this.queues, this.jobs, jobId));
  }

  private async addAndEnqueue(jobId: string, collection: string, photos: PhotoToAdd[]): Promise<void> {
    // Counted first, so no worker can settle a key the job does not know yet. A key the job has
    // already is not queued again: a job takes each key once (a retried request changes nothing).
    const { added, token } = await this.jobs.addPhotos(jobId, photos.map((p) => p.key));
    // Before the photos can be indexed: erasing one must find (and may delete) its uploaded bytes.
    // Every upload is recorded, a skipped key's too: it is another version of that key's photo.
    await this.blobRefs.record(collection, photos.flatMap((p) => (p.source.kind === 'blob' ? [{ key: p.key, blobId: p.source.blobId }] : [])));
    if (!token) return;
    const fresh = new Set(added);
    const outcome = await this.detect.enqueue(jobId, collection, photos.filter((p) => fresh.has(p.key)));
    // A waiting photo of another job was replaced by this one: that job settles it as superseded.
    for (const { jobId: other, key } of outcome.superseded) {
      await this.settleFailed(other, key, 'PHOTO_SUPERSEDED', `Replaced by a later submission of the same key in job ${jobId}`);
    }
    // The same key is being processed for another job right now and cannot be replaced.
    for (const { jobId: other, key } of outcome.inFlight) {
      await this.settleFailed(jobId, key, 'PHOTO_IN_PROGRESS', `This key is being processed for job ${other}; submit it again once that job has settled it`);
    }
    // Queued (or settled): a gateway dying before this line leaves the add to InterruptedSubmissionSweep.
    await this.jobs.markQueued(token);
  }

  private async settleFailed(jobId: string, key: string, code: string, message: string): Promise<void> {
    try {
      await settlePhoto(this.queues, this.jobs, jobId, { key, status: 'failed', faces: [], error: { code, message } });
    } catch (err) {
      // The other job may be gone (expired); nothing waits on it then.
      this.logger.warn('could not settle a replaced photo', { jobId, key, code, error: err instanceof Error ? err.message : String(err) });
    }
  }
}

export function jobNotFound(jobId: string): ApiError {
  return ApiError.notFound('JOB_NOT_FOUND', `Job ${jobId} does not exist`);
}
