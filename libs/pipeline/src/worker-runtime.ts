import type { QueueName } from '@facepipe/contracts';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { isLastAttempt } from './completion';
import type { ServiceConfig } from './config';
import { HealthServer } from './health-server';
import { createLogger, type Logger } from './logger';
import { createMetrics, type Metrics } from './metrics';
import { Queues } from './queues';
import { checkRedis, createRedis, redisAnswers } from './redis';

export type StageName = 'detector' | 'embedder' | 'matcher' | 'notifier';

/** Metrics ports when FACEPIPE_METRICS_PORT is 0: fixed per stage so one host can run them all. */
export const STAGE_METRICS_PORTS: Record<StageName, number> = { detector: 9101, embedder: 9102, matcher: 9103, notifier: 9104 };

export interface StageOptions<T> {
  stage: StageName;
  queue: QueueName;
  config: ServiceConfig;
  concurrency: number;
  process(job: Job<T>): Promise<unknown>;
  /** e.g. models loaded; /readyz is 503 while false. */
  ready?(): Promise<boolean>;
  /** Runs after the last active job has finished, before Redis is closed. */
  onClose?(): Promise<void>;
  /** The process's metrics, when the stage records its own (batch sizes, model time) too. */
  metrics?: Metrics;
  logger?: Logger;
  /** Install SIGTERM/SIGINT handlers that drain and exit (default true; tests embed stages). */
  handleSignals?: boolean;
  /**
   * More queues this process serves beside its own (the matcher also runs the index operations),
   * each with its own worker; probes, metrics and the drain stay the process's single ones.
   */
  extraQueues?: ExtraQueue[];
  /**
   * Called once BullMQ has given up on a job of the stage's own queue without our processor
   * settling it: a job whose process died under it more than STALL_LIMIT times (say, a photo that
   * gets the worker OOM-killed) is failed by BullMQ itself. The stage settles the photo (or answers
   * the waiting caller) here, so its batch still completes.
   */
  onGiveUp?(job: Job<T>, reason: string): Promise<void>;
}

/**
 * How often a job may lose its worker (crash, SIGKILL, lost lock) and still be retried. BullMQ's
 * default is 1: a second crash of the same photo would fail it without our code running.
 */
export const STALL_LIMIT = 2;

export interface ExtraQueue {
  queue: QueueName;
  concurrency: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each queue has its own job type
  process(job: Job<any>): Promise<unknown>;
}

export interface StageHandle {
  /** Drains: stop taking jobs, wait for active ones, close everything. Idempotent. */
  close(): Promise<void>;
  /** The port /healthz, /readyz and /metrics listen on. */
  metricsPort: number;
  worker: Worker;
  /** The workers of `extraQueues`, in order. */
  extraWorkers: Worker[];
}

/**
 * What every stage process runs: a BullMQ worker over the stage's queue, probes and metrics over
 * HTTP, JSON logs, and a graceful drain on SIGTERM (Kubernetes' stop signal) or SIGINT — nothing new
 * is taken, in-flight jobs finish (a job cut off here would only be retried after its lock
 * expired), connections close, the process exits 0.
 */
export async function runStage<T>(opts: StageOptions<T>): Promise<StageHandle> {
  const { config, stage } = opts;
  const logger = opts.logger ?? createLogger(stage);
  const metrics = opts.metrics ?? createMetrics(stage);
  await checkRedis(config.redisUrl); // fail fast, with advice, rather than retry silently forever

  const connection = createRedis(config.redisUrl, stage);
  const queues = new Queues(connection, config.prefix);
  const health = new HealthServer({
    host: config.host,
    port: config.metricsPort || STAGE_METRICS_PORTS[stage],
    registry: metrics.registry,
    logger,
    ready: async () => {
      if (connection.status !== 'ready' || (await connection.ping()) !== 'PONG') return false;
      return opts.ready ? opts.ready() : true;
    },
    beforeScrape: async () => {
      const depths = await queues.depths();
      for (const [queue, counts] of Object.entries(depths)) {
        for (const [state, n] of Object.entries(counts)) metrics.queueDepth.set({ queue, state }, n);
      }
    },
  });
  let metricsPort: number;
  try {
    metricsPort = await health.listen();
  } catch (err) {
    connection.disconnect();
    throw err;
  }

  const newWorker = <J>(queue: QueueName, concurrency: number, process: (job: Job<J>) => Promise<unknown>): Worker<J> => {
    const w = new Worker<J>(queue, (job) => processJob(job, process, metrics, logger), {
      connection,
      prefix: config.prefix,
      concurrency: Math.max(1, concurrency),
      maxStalledCount: STALL_LIMIT,
    });
    w.on('error', (err) => logger.error('worker error', { queue, error: err }));
    w.on('stalled', (jobId) => logger.warn('job stalled; it will run again', { queue, jobId }));
    return w;
  };
  const worker = newWorker<T>(opts.queue, opts.concurrency, opts.process);
  if (opts.onGiveUp) {
    const onGiveUp = opts.onGiveUp;
    worker.on('failed', (job, err) => {
      if (!job) return;
      // 'failed' also fires for an attempt that will be retried: act only when the job is dead.
      void job
        .getState()
        .then(async (state) => {
          if (state !== 'failed') return;
          logger.error('job given up', { queue: opts.queue, jobId: job.id, error: err });
          await onGiveUp(job, err.message);
        })
        .catch((e: unknown) => logger.error('settling a given-up job failed', { queue: opts.queue, jobId: job.id, error: e }));
    });
  }
  const extraWorkers = (opts.extraQueues ?? []).map((q) => newWorker(q.queue, q.concurrency, q.process));
  const workers: Worker[] = [worker, ...extraWorkers];
  try {
    await Promise.all(workers.map((w) => w.waitUntilReady()));
  } catch (err) {
    await Promise.all(workers.map((w) => w.close(true).catch(() => undefined)));
    await health.close();
    connection.disconnect();
    throw err;
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      health.setDraining();
      // Without Redis an active job can be neither finished nor handed back, and BullMQ's close
      // waits on commands queued for a Redis that may be gone for good: a drain would never end
      // (and Kubernetes would SIGKILL the pod at its grace period). So the drain does not wait for
      // active jobs then; their locks expire and another replica takes them again.
      const redisDown = !(await redisAnswers(connection, REDIS_ANSWER_MS));
      logger.info(redisDown ? 'draining without Redis: not waiting for active jobs' : 'draining: no new jobs, waiting for active ones');
      let failure: unknown;
      const step = (work: () => Promise<unknown>) => (redisDown ? withDeadline(work(), FORCED_CLOSE_MS) : work()).then(
        () => undefined,
        (err: unknown) => void (failure ??= err),
      );
      if (redisDown) connection.disconnect(); // fails what is queued on it, so the closes below return
      await Promise.all(workers.map((w) => step(() => w.close(redisDown))));
      if (opts.onClose) await step(opts.onClose);
      await step(() => queues.close());
      // QUIT waits for a Redis to answer it: without one it would wait for ever.
      if (redisDown) connection.disconnect();
      else await connection.quit().catch(() => connection.disconnect());
      await health.close();
      removeSignalHandlers();
      if (failure && !redisDown) throw failure;
      if (failure) logger.warn('closed without Redis; active jobs go back to the queue when their locks expire', { error: failure });
      logger.info('stopped');
    })());

  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      // `npm start` under a terminal sends both SIGINT (Ctrl-C) and SIGTERM: one drain is enough.
      logger.info('already draining', { signal });
      return;
    }
    logger.info('signal received', { signal });
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('shutdown failed', { error: err });
        process.exit(1);
      },
    );
  };
  const removeSignalHandlers = () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  };
  if (opts.handleSignals !== false) {
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }

  logger.info('started', { queue: opts.queue, concurrency: opts.concurrency, metricsPort, extraQueues: (opts.extraQueues ?? []).map((q) => q.queue) });
  return { close, metricsPort, worker, extraWorkers };
}

/** One job through the stage's processor, timed and counted. */
async function processJob<T>(job: Job<T>, process: (job: Job<T>) => Promise<unknown>, metrics: Metrics, logger: Logger): Promise<unknown> {
  const endTimer = metrics.stageSeconds.startTimer();
  try {
    const result = await process(job);
    metrics.jobs.inc({ outcome: 'completed' });
    return result;
  } catch (err) {
    const final = err instanceof UnrecoverableError || isLastAttempt(job);
    metrics.jobs.inc({ outcome: final ? 'failed' : 'retried' });
    const fields = { jobId: job.id, attempt: job.attemptsMade + 1, error: err };
    if (final) logger.error('job failed', fields);
    else logger.warn('job attempt failed; it will be retried', fields);
    throw err;
  } finally {
    endTimer();
  }
}

/** How long a forced close (Redis unreachable) may take before the drain goes on without it. */
const FORCED_CLOSE_MS = 3_000;
/** A Redis that does not answer a PING within this when a drain starts is taken as down (also when frozen, with the connection still 'ready'). */
const REDIS_ANSWER_MS = 1_000;

/** `promise`, or a rejection once `ms` have passed. */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
