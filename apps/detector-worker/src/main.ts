import { QUEUES, isSyncJob, type DetectJob, type SyncDetectJob } from '@facepipe/contracts';
import { FaceEngine, chosenManifest } from '@facepipe/face-engine';
import { BlobStore, CollectionRegistry, JobStore, PhotoFetcher, Queues, ThumbnailStore, createMetrics, thumbnailDir, createRedis, loadConfig, runStage, settleGivenUp } from '@facepipe/pipeline';
import type { Job } from 'bullmq';
import path from 'node:path';
import { DetectProcessor } from './detect.processor';
import { SyncDetectProcessor } from './sync-detect.processor';

/** detector-worker: one process of the detect stage (scale it with replicas). */
async function main(): Promise<void> {
  const config = loadConfig();
  const engine = await FaceEngine.create({
    manifest: chosenManifest({ file: config.modelManifest, minFaceSize: config.minFaceSize }),
    intraOpThreads: config.threads,
    executionProvider: config.executionProvider,
  });
  const redis = createRedis(config.redisUrl, 'detector');
  const queues = new Queues(redis, config.prefix);
  const jobStore = new JobStore(redis, config.prefix, config.jobRetentionSeconds);
  const fetcher = new PhotoFetcher({
    blobs: new BlobStore(path.join(config.dataDir, 'blobs')),
    pathRoots: config.pathRoots,
    allowPrivateUrls: config.allowPrivateUrls,
    maxBytes: config.maxPhotoBytes,
    timeoutMs: config.fetchTimeoutMs,
  });
  const metrics = createMetrics('detector');
  const thumbnails = new ThumbnailStore(thumbnailDir(config.dataDir), redis, config.prefix);
  const processor = new DetectProcessor(engine, fetcher, queues, jobStore, metrics, thumbnails, new CollectionRegistry(redis, config.prefix));
  // Synchronous calls (search, verify, detect, enrol) ride the same queue at a higher priority.
  const sync = new SyncDetectProcessor(engine, fetcher, queues, redis, config.prefix, metrics, thumbnails);
  await runStage<DetectJob>({
    stage: 'detector',
    queue: QUEUES.detect,
    config,
    concurrency: config.concurrency || 2,
    metrics,
    process: (job) => (isSyncJob(job.data) ? sync.process(job as Job<SyncDetectJob>) : processor.process(job)),
    onGiveUp: (job, reason) => settleGivenUp(queues, jobStore, redis, config.prefix, job.data, reason),
    ready: async () => true,
    onClose: async () => {
      await queues.close();
      await engine.release();
      redis.disconnect();
    },
  });
}

main().catch((err) => {
  process.stderr.write(`detector-worker: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
