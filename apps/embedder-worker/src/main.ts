import { QUEUES, isSyncJob, type EmbedJob, type SyncEmbedJob } from '@facepipe/contracts';
import { FaceEngine, chosenManifest, type RgbImage } from '@facepipe/face-engine';
import { JobStore, MicroBatcher, Queues, createMetrics, createRedis, loadConfig, runStage, settleGivenUp } from '@facepipe/pipeline';
import type { Job } from 'bullmq';
import { EmbedProcessor } from './embed.processor';
import { SyncEmbedProcessor } from './sync-embed.processor';


/** embedder-worker: one process of the embed stage; runs on CPU or, with the CUDA image, GPU. */
async function main(): Promise<void> {
  const config = loadConfig();
  const engine = await FaceEngine.create({
    manifest: chosenManifest({ file: config.modelManifest }),
    intraOpThreads: config.threads,
    executionProvider: config.executionProvider,
  });
  const redis = createRedis(config.redisUrl, 'embedder');
  const queues = new Queues(redis, config.prefix);
  const jobStore = new JobStore(redis, config.prefix, config.jobRetentionSeconds);
  const metrics = createMetrics('embedder');
  const batcher = new MicroBatcher<RgbImage, Float32Array>(
    async (crops) => {
      const stop = metrics.modelSeconds.startTimer({ model: 'embed' });
      try {
        return await engine.embedAligned(crops);
      } finally {
        stop();
      }
    },
    config.embedBatchSize,
    config.embedBatchWaitMs,
    (size) => metrics.batchSize.observe(size),
  );
  const processor = new EmbedProcessor(batcher, queues, jobStore, engine.manifest.embedder.dim);
  // Synchronous calls: verify is answered here; search and enrol go on to the matcher.
  const sync = new SyncEmbedProcessor(batcher, queues, redis, config.prefix);
  await runStage<EmbedJob>({
    stage: 'embedder',
    queue: QUEUES.embed,
    config,
    // Enough jobs in flight to fill a batch: each job waits on the batcher, not on the CPU.
    concurrency: config.concurrency || config.embedBatchSize,
    metrics,
    process: (job) => (isSyncJob(job.data) ? sync.process(job as Job<SyncEmbedJob>) : processor.process(job)),
    onGiveUp: (job, reason) => settleGivenUp(queues, jobStore, redis, config.prefix, job.data, reason),
    onClose: async () => {
      await queues.close();
      await engine.release();
      redis.disconnect();
    },
  });
}

main().catch((err) => {
  process.stderr.write(`embedder-worker: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
