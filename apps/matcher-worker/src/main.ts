import { QUEUES, isSyncJob, type MatchJob, type SyncMatchJob } from '@facepipe/contracts';
import { type FaceIndexEvent, openFaceIndex } from '@facepipe/face-index';
import { CollectionRegistry, JobStore, Queues, type StageHandle, createLogger, createMetrics, createRedis, loadConfig, runStage, settleGivenUp } from '@facepipe/pipeline';
import type { Job } from 'bullmq';
import path from 'node:path';
import { CollectionStats } from './collection-stats';
import { IndexOpsProcessor } from './index-ops.processor';
import { MatchProcessor } from './match.processor';
import { RecognitionProcessor } from './recognition.processor';
import { Serial } from './serial';

/**
 * matcher-worker: owns the embedded face index (one process; FACE_INDEX=qdrant lifts that limit
 * later). Concurrency is 1 on purpose: the index is single-writer and clustering must see every
 * face before the next.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('matcher');
  const running: { stage?: StageHandle } = {}; // set once the stage runs
  // A collection that fails for good (its log could not be fsynced) takes no writes until the index
  // is reopened, which replays every acknowledged write: the matcher stops, and its supervisor
  // (Kubernetes, or the operator after `npm start` stops) starts it again. As PostgreSQL does after
  // a failed fsync; running on would fail every later write to that collection.
  const onIndexEvent = (event: FaceIndexEvent) => {
    if (event.type === 'checkpoint' && event.phase === 'failed') {
      // The previous snapshot and the log stay current, so nothing is lost; a full disk shows here first.
      const error = event.error instanceof Error ? event.error.message : String(event.error);
      logger.warn('a face index checkpoint failed; the log keeps every write until the next one', { collection: event.collection, error });
    }
    if (event.type !== 'failed') return;
    logger.error('a face index collection failed; stopping so that a restart reopens the index', { collection: event.collection, error: event.error.message });
    void (running.stage ? running.stage.close() : Promise.resolve()).catch(() => undefined).finally(() => process.exit(1));
  };
  // FACE_INDEX: the embedded index under the data dir, or Qdrant (collections `<FACEPIPE_PREFIX>_<name>`).
  const fi = config.faceIndex;
  const index = await openFaceIndex(
    fi.backend === 'qdrant'
      ? { backend: 'qdrant', url: fi.url, apiKey: fi.apiKey, collectionPrefix: config.prefix, ...(fi.ef ? { hnswEf: fi.ef } : {}) }
      : { backend: 'embedded', dir: path.join(config.dataDir, 'index'), ...(fi.ef ? { expansionSearch: fi.ef } : {}), onEvent: onIndexEvent },
  );
  const redis = createRedis(config.redisUrl, 'matcher');
  const queues = new Queues(redis, config.prefix);
  const jobStore = new JobStore(redis, config.prefix, config.jobRetentionSeconds);
  const metrics = createMetrics('matcher');
  const stats = new CollectionStats(redis, config.prefix, (collection, faces) => metrics.indexFaces.set({ collection }, faces));
  // The one Serial of this process: every index writer (matching, index operations) runs through it.
  const serial = new Serial();
  const registry = new CollectionRegistry(redis, config.prefix);
  const processor = new MatchProcessor(index, stats, queues, jobStore, config.clusterThreshold, serial, registry);
  const indexOps = new IndexOpsProcessor(index, stats, registry, serial, redis, config.prefix, config.clusterThreshold, logger);
  // Synchronous search and enrolment: same queue as ingest, at a higher priority, same Serial.
  const recognition = new RecognitionProcessor(index, stats, registry, serial, redis, config.prefix);
  running.stage = await runStage<MatchJob>({
    stage: 'matcher',
    queue: QUEUES.match,
    config,
    concurrency: 1,
    metrics,
    process: (job) => (isSyncJob(job.data) ? recognition.process(job as Job<SyncMatchJob>) : processor.process(job)),
    onGiveUp: (job, reason) => settleGivenUp(queues, jobStore, redis, config.prefix, job.data, reason),
    logger,
    // Index operations: reads run beside ingest and writes take their turn in the serial order;
    // several at once, so a quick people listing is not stuck behind a long recluster.
    extraQueues: [{ queue: QUEUES.index, concurrency: 4, process: (job) => indexOps.process(job) }],
    onClose: async () => {
      await index.close();
      await queues.close();
      redis.disconnect();
    },
  });
}

main().catch((err) => {
  process.stderr.write(`matcher-worker: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
