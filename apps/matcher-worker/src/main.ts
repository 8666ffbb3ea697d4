import { QUEUES, type MatchJob } from '@facepipe/contracts';
import { EmbeddedFaceIndex } from '@facepipe/face-index';
import { JobStore, Queues, createMetrics, createRedis, loadConfig, runStage } from '@facepipe/pipeline';
import path from 'node:path';
import { CollectionStats } from './collection-stats';
import { MatchProcessor } from './match.processor';
import { Serial } from './serial';

/**
 * matcher-worker: owns the embedded face index (one process; FACE_INDEX=qdrant lifts that limit
 * later). Concurrency is 1 on purpose: the index is single-writer and clustering must see every
 * face before the next.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const index = await EmbeddedFaceIndex.open(path.join(config.dataDir, 'index'));
  const redis = createRedis(config.redisUrl, 'matcher');
  const queues = new Queues(redis, config.prefix);
  const metrics = createMetrics('matcher');
  const stats = new CollectionStats(redis, config.prefix, (collection, faces) => metrics.indexFaces.set({ collection }, faces));
  const processor = new MatchProcessor(index, stats, queues, new JobStore(redis, config.prefix), config.clusterThreshold, new Serial());
  await runStage<MatchJob>({
    stage: 'matcher',
    queue: QUEUES.match,
    config,
    concurrency: 1,
    metrics,
    process: (job) => processor.process(job),
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
