import { DEFAULT_MATCH_THRESHOLD } from '@facepipe/contracts';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { EnvReader } from './env-reader';

/** Which face index the matcher opens (FACE_INDEX), with the Qdrant connection when it is `qdrant`. */
export type FaceIndexConfig = ({ backend: 'embedded' } | { backend: 'qdrant'; url: string; apiKey?: string }) & {
  /**
   * FACEPIPE_INDEX_EF: HNSW's search breadth (ef) for every ANN search; unset, the backend's default
   * (the embedded index: 768, which reaches recall@10 0.99 at 1M faces; Qdrant: its own). Lower is
   * faster and misses more of the true nearest faces (README, "Embedded face index").
   */
  ef?: number;
};

export interface ServiceConfig {
  /** HOST: interface the HTTP servers bind to. */
  host: string;
  /** PORT: the gateway's HTTP port. */
  port: number;
  /** REDIS_URL */
  redisUrl: string;
  /** FACEPIPE_PREFIX: Redis key prefix, also BullMQ's queue prefix. */
  prefix: string;
  /** FACEPIPE_DATA_DIR, absolute after parsing. */
  dataDir: string;
  /** FACEPIPE_API_KEY */
  apiKey?: string;
  /** FACEPIPE_PATH_ROOTS: absolute directories that `path` photo sources may read from. */
  pathRoots: string[];
  /** FACEPIPE_ALLOW_PRIVATE_URLS: allow loopback/private/link-local URL sources and webhooks. */
  allowPrivateUrls: boolean;
  /** FACEPIPE_MAX_PHOTO_BYTES */
  maxPhotoBytes: number;
  /** FACEPIPE_FETCH_TIMEOUT_MS */
  fetchTimeoutMs: number;
  /** FACEPIPE_METRICS_PORT: 0 = the stage's default port (see STAGE_METRICS_PORTS). */
  metricsPort: number;
  /** FACEPIPE_EMBED_BATCH */
  embedBatchSize: number;
  /** FACEPIPE_EMBED_BATCH_WAIT_MS */
  embedBatchWaitMs: number;
  /** FACEPIPE_CLUSTER_THRESHOLD: cosine similarity at which an unknown face joins a person. */
  clusterThreshold: number;
  /** FACEPIPE_CONCURRENCY: 0 = the stage's own default. */
  concurrency: number;
  /** FACEPIPE_THREADS: onnxruntime intra-op threads per model in a worker process. */
  threads: number;
  /** FACEPIPE_EXECUTION_PROVIDER: cpu, or cuda with the CUDA build of onnxruntime-node. */
  executionProvider: 'cpu' | 'cuda';
  /** FACE_INDEX (embedded | qdrant), QDRANT_URL (required for qdrant), QDRANT_API_KEY. */
  faceIndex: FaceIndexConfig;
  /** FACEPIPE_SYNC_TIMEOUT_MS: how long the gateway waits for a synchronous call (search, verify, detect, enrol). */
  syncTimeoutMs: number;
  /** FACEPIPE_ENROLL_MIN_QUALITY: faces below this quality are not enrolled (FACE_QUALITY_TOO_LOW). */
  enrollMinQuality: number;
  /** FACEPIPE_JOB_RETENTION_DAYS, in seconds: how long a completed batch job's record is kept; 0 = for ever. */
  jobRetentionSeconds: number;
  /** FACEPIPE_MODEL_MANIFEST (absolute): the models the detector and embedder load; unset, the built-in faceplugin set. */
  modelManifest?: string;
  /** FACEPIPE_MIN_FACE_SIZE: the smallest face the detector looks for, in pixels; unset, the manifest's (32). */
  minFaceSize?: number;
  /**
   * The match threshold of verify and of a collection that sets none: the model manifest's
   * `embedder.threshold` (DEFAULT_MATCH_THRESHOLD for the built-in one). The gateway reads just this
   * field from FACEPIPE_MODEL_MANIFEST; the workers validate the whole manifest when they load it.
   */
  defaultThreshold: number;
}

const MiB = 1024 * 1024;

function integer(min: number, max: number): z.ZodType<number, string> {
  const message = `must be an integer from ${min} to ${max}`;
  return z
    .string()
    .regex(/^-?\d+$/, message)
    .transform(Number)
    .pipe(z.number().int().min(min, message).max(max, message));
}

function decimal(min: number, max: number): z.ZodType<number, string> {
  const message = `must be a number from ${min} to ${max}`;
  return z
    .string()
    .regex(/^-?(\d+\.?\d*|\.\d+)$/, message)
    .transform(Number)
    .pipe(z.number().min(min, message).max(max, message));
}

const boolean: z.ZodType<boolean, string> = z
  .enum(['true', 'false', '1', '0'], 'must be true or false')
  .transform((v) => v === 'true' || v === '1');

const redisUrl: z.ZodType<string, string> = z.string().refine((v) => {
  try {
    return ['redis:', 'rediss:'].includes(new URL(v).protocol);
  } catch {
    return false;
  }
}, 'must be a redis:// or rediss:// URL');

const qdrantUrl: z.ZodType<string, string> = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return ['http:', 'https:'].includes(u.protocol) && !u.username && !u.password && !u.search && !u.hash;
  } catch {
    return false;
  }
}, 'must be an http:// or https:// URL without credentials or query (the key goes in QDRANT_API_KEY)');

const pathRoots: z.ZodType<string[], string> = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  )
  .pipe(z.array(z.string().refine((p) => path.isAbsolute(p), 'must list absolute directories, comma-separated')))
  .transform((roots) => roots.map((r) => path.resolve(r)));

/**
 * Parses the service configuration from the environment, once, at start-up. Every bad value is
 * reported in one ConfigError whose message names the variables (`FACEPIPE_MAX_PHOTO_BYTES must be
 * an integer …`), so a misconfigured process stops before it touches Redis.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const r = new EnvReader(env);
  const config: ServiceConfig = {
    host: r.read('HOST', z.string(), '127.0.0.1'),
    port: r.read('PORT', integer(0, 65535), 3000),
    redisUrl: r.read('REDIS_URL', redisUrl, 'redis://127.0.0.1:6379', { secret: true }),
    prefix: r.read('FACEPIPE_PREFIX', z.string().regex(/^[A-Za-z0-9_-]+$/, 'may hold only letters, digits, _ and -'), 'facepipe'),
    dataDir: r.read('FACEPIPE_DATA_DIR', z.string().transform((p) => path.resolve(p)), path.resolve('data')),
    apiKey: r.read<string | undefined>('FACEPIPE_API_KEY', z.string(), undefined, { secret: true }),
    pathRoots: r.read('FACEPIPE_PATH_ROOTS', pathRoots, []),
    allowPrivateUrls: r.read('FACEPIPE_ALLOW_PRIVATE_URLS', boolean, false),
    maxPhotoBytes: r.read('FACEPIPE_MAX_PHOTO_BYTES', integer(1, 2 ** 31 - 1), 50 * MiB),
    fetchTimeoutMs: r.read('FACEPIPE_FETCH_TIMEOUT_MS', integer(1, 3_600_000), 20_000),
    metricsPort: r.read('FACEPIPE_METRICS_PORT', integer(0, 65535), 0),
    embedBatchSize: r.read('FACEPIPE_EMBED_BATCH', integer(1, 4096), 16),
    embedBatchWaitMs: r.read('FACEPIPE_EMBED_BATCH_WAIT_MS', integer(0, 60_000), 5),
    // Stricter than the verification threshold (0.34 at FAR 1e-3): a face is compared with the
    // whole collection, so false merges grow with its size, and a wrong merge is worse than a split.
    clusterThreshold: r.read('FACEPIPE_CLUSTER_THRESHOLD', decimal(-1, 1), 0.5),
    concurrency: r.read('FACEPIPE_CONCURRENCY', integer(0, 10_000), 0),
    threads: r.read('FACEPIPE_THREADS', integer(1, 256), 1),
    executionProvider: r.read('FACEPIPE_EXECUTION_PROVIDER', z.enum(['cpu', 'cuda'], 'must be cpu or cuda'), 'cpu'),
    faceIndex: readFaceIndex(r, env),
    syncTimeoutMs: r.read('FACEPIPE_SYNC_TIMEOUT_MS', integer(1, 600_000), 30_000),
    // Refuses profiles, strongly tilted heads and tiny faces, and about 2% of LFW-style portraits;
    // every frontal demo face passes (README, "Identities and 1:N search").
    enrollMinQuality: r.read('FACEPIPE_ENROLL_MIN_QUALITY', decimal(0, 1), 0.2),
    // A week to read a finished job's results. At least a day when set: a webhook is retried for
    // about 30 h and a re-seal re-sends a lost one for a day, both reading the job's record.
    jobRetentionSeconds: r.read('FACEPIPE_JOB_RETENTION_DAYS', integer(0, 3650).refine((d) => d === 0 || d >= 2, 'must be 0 (keep for ever) or from 2 days'), 7) * 86_400,
    modelManifest: r.read<string | undefined>('FACEPIPE_MODEL_MANIFEST', z.string().transform((p) => path.resolve(p)), undefined),
    minFaceSize: r.read<number | undefined>('FACEPIPE_MIN_FACE_SIZE', integer(4, 100_000), undefined),
    defaultThreshold: DEFAULT_MATCH_THRESHOLD,
  };
  if (config.modelManifest !== undefined) {
    const threshold = manifestThreshold(config.modelManifest);
    if (typeof threshold === 'number') config.defaultThreshold = threshold;
    else r.report('FACEPIPE_MODEL_MANIFEST', threshold.error);
  }
  r.throwIfInvalid();
  for (const optional of ['apiKey', 'modelManifest', 'minFaceSize'] as const) if (config[optional] === undefined) delete config[optional];
  return config;
}

/** The `embedder.threshold` of a model manifest file, or why it has none. */
function manifestThreshold(file: string): number | { error: string } {
  let manifest: { embedder?: { threshold?: unknown } } | null;
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8')) as typeof manifest;
  } catch (err) {
    return { error: `cannot be read as JSON (${file}): ${(err as Error).message}` };
  }
  const threshold = manifest?.embedder?.threshold;
  if (typeof threshold !== 'number' || !(threshold >= -1 && threshold <= 1)) return { error: `${file} has no embedder.threshold between -1 and 1` };
  return threshold;
}

function readFaceIndex(r: EnvReader, env: NodeJS.ProcessEnv): FaceIndexConfig {
  const backend = r.read('FACE_INDEX', z.enum(['embedded', 'qdrant'], 'must be embedded or qdrant'), 'embedded');
  const url = r.read<string | undefined>('QDRANT_URL', qdrantUrl, undefined, { secret: true });
  const apiKey = r.read<string | undefined>('QDRANT_API_KEY', z.string(), undefined, { secret: true });
  const ef = r.read<number | undefined>('FACEPIPE_INDEX_EF', integer(1, 100_000), undefined);
  const tuning = ef === undefined ? {} : { ef };
  if (backend === 'embedded') return { backend, ...tuning };
  if (url === undefined) {
    // Unset (a malformed value was reported by read already).
    if (!env.QDRANT_URL?.trim()) r.report('QDRANT_URL', 'is required when FACE_INDEX=qdrant');
    return { backend: 'embedded' }; // never used: loadConfig throws
  }
  return { backend, url, ...(apiKey === undefined ? {} : { apiKey }), ...tuning };
}
