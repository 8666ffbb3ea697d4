import { QUEUES, decodeBytes, encodeFloat32, type SyncEmbedJob, type SyncMatchJob, type VerifyResult } from '@facepipe/contracts';
import { type RgbImage, cosineSimilarity } from '@facepipe/face-engine';
import { type MicroBatcher, SYNC_JOB_OPTIONS, callerGaveUp, failSyncCall, sendReply, type Queues } from '@facepipe/pipeline';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';

const CROP = 112;

/**
 * The embed stage of a synchronous call: its crops join the same micro-batches as ingest. It
 * answers `verify` (cosine similarity of the two faces the detector picked: the largest of each
 * photo) and hands search and enrol on to the matcher.
 */
export class SyncEmbedProcessor {
  constructor(
    private readonly batcher: MicroBatcher<RgbImage, Float32Array>,
    private readonly queues: Queues,
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async process(job: Job<SyncEmbedJob>): Promise<unknown> {
    // Queued longer than its caller waited (a backlog): nobody reads the answer any more.
    if (callerGaveUp(job.data.request)) return { skipped: 'CALLER_GAVE_UP' };
    try {
      return await this.embed(job.data);
    } catch (err) {
      // Nothing here is the caller's fault (the crops were made by the detector): retry, then 5xx.
      return failSyncCall(this.redis, this.prefix, job, job.data.request.id, err, false);
    }
  }

  private async embed(data: SyncEmbedJob): Promise<{ faces: number }> {
    const { request } = data;
    // Urgent: a client is waiting, so the crops do not wait for a batch to fill.
    const embeddings = await this.batcher.submit(data.faces.map((f) => ({ width: CROP, height: CROP, data: decodeBytes(f.crop) })), true);
    if (request.op === 'verify') {
      const similarity = cosineSimilarity(embeddings[0], embeddings[1]);
      const result: VerifyResult = { similarity, match: similarity >= request.threshold, threshold: request.threshold, faces: data.photoFaces ?? { a: 1, b: 1 } };
      await sendReply(this.redis, this.prefix, request.id, { ok: true, result });
      return { faces: 2 };
    }
    const match: SyncMatchJob = {
      jobId: data.jobId,
      collection: data.collection,
      key: data.key,
      width: data.width,
      height: data.height,
      faces: data.faces.map((f, i) => ({ index: f.index, box: f.box, score: f.score, quality: f.quality, landmarks: f.landmarks, embedding: encodeFloat32(embeddings[i]) })),
      request,
    };
    await this.queues.get(QUEUES.match).add('match', match, { ...SYNC_JOB_OPTIONS, jobId: request.id });
    return { faces: embeddings.length };
  }
}
