import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  /** facepipe_jobs_total{stage,outcome}: outcome = completed | retried | failed. */
  jobs: Counter<'stage' | 'outcome'>;
  /** facepipe_stage_seconds{stage}: wall time of one job in the stage's processor. */
  stageSeconds: Histogram<'stage'>;
  /** facepipe_model_seconds{stage,model}: one inference call. */
  modelSeconds: Histogram<'stage' | 'model'>;
  /** facepipe_embed_batch_size{stage}: crops per embedder batch. */
  batchSize: Histogram<'stage'>;
  /** facepipe_webhook_deliveries_total{stage,outcome}: outcome = delivered | retried | dead. */
  webhookDeliveries: Counter<'stage' | 'outcome'>;
  /** facepipe_queue_depth{stage,queue,state}: refreshed on every scrape by runStage. */
  queueDepth: Gauge<'stage' | 'queue' | 'state'>;
  /** facepipe_index_faces{stage,collection}: faces in the face index, set by the matcher. */
  indexFaces: Gauge<'stage' | 'collection'>;
}

/**
 * The metrics of one process, in a registry of its own (not prom-client's global one, so tests and
 * several stages in one process never collide). `stage` is a default label: callers need not pass it.
 */
export function createMetrics(stage: string): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ stage });
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    jobs: new Counter({ name: 'facepipe_jobs_total', help: 'Jobs processed, by outcome', labelNames: ['stage', 'outcome'], registers }),
    stageSeconds: new Histogram({
      name: 'facepipe_stage_seconds',
      help: 'Time to process one job',
      labelNames: ['stage'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    modelSeconds: new Histogram({
      name: 'facepipe_model_seconds',
      help: 'Time of one model inference call',
      labelNames: ['stage', 'model'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    batchSize: new Histogram({
      name: 'facepipe_embed_batch_size',
      help: 'Face crops per embedder batch',
      labelNames: ['stage'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers,
    }),
    webhookDeliveries: new Counter({
      name: 'facepipe_webhook_deliveries_total',
      help: 'Webhook delivery attempts, by outcome',
      labelNames: ['stage', 'outcome'],
      registers,
    }),
    queueDepth: new Gauge({ name: 'facepipe_queue_depth', help: 'Jobs per queue and state', labelNames: ['stage', 'queue', 'state'], registers }),
    indexFaces: new Gauge({ name: 'facepipe_index_faces', help: 'Faces in the face index, per collection', labelNames: ['stage', 'collection'], registers }),
  };
}
