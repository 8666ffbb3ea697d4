import { PRIORITY, QUEUES, encodeBytes, faceId, type DetectJob, type EmbedJob } from '@facepipe/contracts';
import { FaceEngine, FaceEngineError, toErrorInfo } from '@facepipe/face-engine';
import { DEFAULT_JOB_OPTIONS, PhotoFetcher, PipelineError, isLastAttempt, settlePhoto, type JobStore, type Metrics, type Queues, type ThumbnailStore, type CollectionRegistry } from '@facepipe/pipeline';
import type { Job } from 'bullmq';

/**
 * detect → align: fetches the photo, finds its faces, aligns each to 112×112 and hands the crops
 * to the embed queue. A photo that can never succeed (not an image, too large, refused source)
 * settles as `failed` here with its code, instead of being retried.
 */
export class DetectProcessor {
  constructor(
    private readonly engine: FaceEngine,
    private readonly fetcher: PhotoFetcher,
    private readonly queues: Queues,
    private readonly jobs: JobStore,
    private readonly metrics?: Metrics,
    /** Where the aligned crops of ingested faces are kept as JPEG thumbnails. */
    private readonly thumbnails?: ThumbnailStore,
    /** When given, photos of a collection deleted while they waited are dropped unread. */
    private readonly registry?: CollectionRegistry,
  ) {}

  async process(job: Job<DetectJob>): Promise<{ faces: number } | { failed: string }> {
    const data = job.data;
    // Deleted with its collection (its job record and upload went too), even if a namesake has been
    // created since: nothing to detect or settle.
    const owner = this.registry ? await this.registry.recordOfPhoto(data.collection, data.jobId, this.jobs) : {};
    if (!owner) return { failed: 'COLLECTION_NOT_FOUND' };
    let embed: EmbedJob;
    try {
      const image = await this.engine.decode(await this.fetcher.fetch(data.source));
      const stopDetect = this.metrics?.modelSeconds.startTimer({ model: 'detect' });
      const faces = await this.engine.detect(image);
      stopDetect?.();
      const crops = await Promise.all(faces.map((f) => this.engine.align(image, f.landmarks)));
      // Thumbnails so people can be looked at (GET /v1/faces/{faceId}/thumbnail), keyed by the face id the matcher will give,
      // in the generation of the collection checked above: if it is deleted (and re-created) meanwhile, they land where nobody reads.
      await this.thumbnails?.putMany(data.collection, crops.map((crop, index) => ({ faceId: faceId(data.collection, data.key, index), crop })), owner.createdAt);
      embed = {
        jobId: data.jobId,
        collection: data.collection,
        key: data.key,
        width: image.width,
        height: image.height,
        faces: faces.map((f, index) => ({
          index,
          box: [f.box.x1, f.box.y1, f.box.x2 - f.box.x1, f.box.y2 - f.box.y1],
          score: f.score,
          quality: f.quality,
          landmarks: f.landmarks,
          crop: encodeBytes(crops[index].data),
        })),
      };
    } catch (err) {
      if (!isPermanent(err) && !isLastAttempt(job)) throw err; // transient: let BullMQ retry
      const error = err instanceof PipelineError ? err.toInfo() : toErrorInfo(err);
      await settlePhoto(this.queues, this.jobs, data.jobId, { key: data.key, status: 'failed', faces: [], error });
      return { failed: error.code };
    }
    await this.queues.get(QUEUES.embed).add('embed', embed, {
      ...DEFAULT_JOB_OPTIONS,
      jobId: chainJobId(job),
      priority: job.opts.priority ?? PRIORITY.bulk,
    });
    return { faces: embed.faces.length };
  }
}

/**
 * The id of this photo's later jobs (embed, match): unique per submission — a re-submitted photo
 * must not collide with the finished chain of its previous version, which BullMQ keeps for a while
 * and would silently refuse to add again — yet the same across retries of one submission, so a
 * retried stage does not start a second chain.
 */
export function chainJobId(job: Job): string {
  return `${job.id}-${job.timestamp}`;
}

/** Bad input fails the same way every time: retrying it only delays the batch. */
export function isPermanent(err: unknown): boolean {
  if (err instanceof FaceEngineError) return err.code !== 'INFERENCE_FAILED' && err.code !== 'MODEL_LOAD_FAILED';
  if (err instanceof PipelineError) return err.status >= 400 && err.status < 500;
  return false;
}
