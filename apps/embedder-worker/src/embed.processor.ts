import { PRIORITY, QUEUES, decodeBytes, encodeFloat32, type EmbedJob, type MatchJob } from '@facepipe/contracts';
import type { RgbImage } from '@facepipe/face-engine';
import { DEFAULT_JOB_OPTIONS, isLastAttempt, settlePhoto, type JobStore, type Queues } from '@facepipe/pipeline';
import type { Job } from 'bullmq';
import type { MicroBatcher } from '@facepipe/pipeline';

const CROP = 112;

/** embed: turns a photo's aligned crops into embeddings (through the shared micro-batcher). */
export class EmbedProcessor {
  constructor(
    private readonly batcher: MicroBatcher<RgbImage, Float32Array>,
    private readonly queues: Queues,
    private readonly jobs: JobStore,
    /** The embedder's vector length, for the matcher (a photo without faces still sets its collection's). */
    private readonly dim: number,
  ) {}

  async process(job: Job<EmbedJob>): Promise<{ faces: number } | { failed: string }> {
    const data = job.data;
    let embeddings: Float32Array[];
    try {
      embeddings = await this.batcher.submit(data.faces.map((f) => ({ width: CROP, height: CROP, data: decodeBytes(f.crop) })));
    } catch (err) {
      if (!isLastAttempt(job)) throw err;
      const message = err instanceof Error ? err.message : String(err);
      await settlePhoto(this.queues, this.jobs, data.jobId, { key: data.key, status: 'failed', faces: [], error: { code: 'EMBEDDING_FAILED', message } });
      return { failed: 'EMBEDDING_FAILED' };
    }
    const match: MatchJob = {
      ...data,
      dim: this.dim,
      faces: data.faces.map((f, i) => ({ index: f.index, box: f.box, score: f.score, quality: f.quality, landmarks: f.landmarks, embedding: encodeFloat32(embeddings[i]) })),
    };
    await this.queues.get(QUEUES.match).add('match', match, {
      ...DEFAULT_JOB_OPTIONS,
      jobId: job.id, // the chain's id, unique per submission (see the detector's chainJobId)
      priority: job.opts.priority ?? PRIORITY.bulk,
    });
    return { faces: embeddings.length };
  }
}
