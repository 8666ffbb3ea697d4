import type { QdrantClientParams } from '@qdrant/js-client-rest' with { 'resolution-mode': 'import' };
import { FaceIndexError } from '../errors';
import { COLLECTION_PREFIX } from './qdrant-mapping';

export interface QdrantFaceIndexOptions {
  /** Qdrant's REST endpoint, e.g. `http://qdrant:6333` (QDRANT_URL). A path is kept as a prefix. */
  url: string;
  /** Sent as the `api-key` header (QDRANT_API_KEY). */
  apiKey?: string;
  /** Qdrant collections are named `<collectionPrefix>_<collection>` (FACEPIPE_PREFIX). */
  collectionPrefix?: string;
  /** Time limit of one HTTP request, in ms. */
  timeoutMs?: number;
  /** Retries of a request that failed transiently (no answer, time-out, 429, 5xx). */
  retries?: number;
  /** First retry delay, doubled per retry (with jitter); a 429's Retry-After wins. */
  retryDelayMs?: number;
  /** Points per upsert/retrieve/delete request, so one call never sends an unbounded body. */
  batchSize?: number;
  /** Qdrant's `hnsw_ef` for every approximate search (FACEPIPE_INDEX_EF); unset, Qdrant's default. */
  hnswEf?: number;
}

export const QDRANT_INDEX_DEFAULTS = {
  collectionPrefix: 'facepipe',
  timeoutMs: 30_000,
  retries: 3,
  retryDelayMs: 200,
  batchSize: 256,
} as const;

export type ResolvedQdrantOptions = Required<Omit<QdrantFaceIndexOptions, 'apiKey' | 'hnswEf'>> & Pick<QdrantFaceIndexOptions, 'apiKey' | 'hnswEf'>;

export function resolveQdrantOptions(options: QdrantFaceIndexOptions): ResolvedQdrantOptions {
  const d = QDRANT_INDEX_DEFAULTS;
  const o: ResolvedQdrantOptions = {
    url: options.url,
    ...(options.apiKey !== undefined ? { apiKey: options.apiKey } : {}),
    ...(options.hnswEf !== undefined ? { hnswEf: options.hnswEf } : {}),
    collectionPrefix: options.collectionPrefix ?? d.collectionPrefix,
    timeoutMs: options.timeoutMs ?? d.timeoutMs,
    retries: options.retries ?? d.retries,
    retryDelayMs: options.retryDelayMs ?? d.retryDelayMs,
    batchSize: options.batchSize ?? d.batchSize,
  };
  if (typeof o.url !== 'string') throw new FaceIndexError('INVALID_ARGUMENT', 'the Qdrant URL is required');
  if (!COLLECTION_PREFIX.test(o.collectionPrefix)) {
    throw new FaceIndexError('INVALID_ARGUMENT', `collectionPrefix must match ${COLLECTION_PREFIX}`);
  }
  const positive = (name: keyof ResolvedQdrantOptions, min: number, max: number) => {
    const v = o[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new FaceIndexError('INVALID_ARGUMENT', `${name} must be an integer in [${min}, ${max}]`);
    }
  };
  positive('timeoutMs', 1, 3_600_000);
  positive('retries', 0, 10);
  positive('retryDelayMs', 0, 60_000);
  positive('batchSize', 1, 10_000);
  if (o.hnswEf !== undefined) positive('hnswEf', 1, 100_000);
  clientParams(o); // validates the URL
  return o;
}

/**
 * The client's constructor arguments. The client ignores a URL's path and defaults a URL without a
 * port to 6333, so both are made explicit here: the path becomes `prefix` (Qdrant behind a reverse
 * proxy under /qdrant), and a URL without a port means 80/443 as everywhere else.
 */
export function clientParams(o: Pick<ResolvedQdrantOptions, 'url' | 'apiKey' | 'timeoutMs'>): QdrantClientParams {
  let u: URL;
  try {
    u = new URL(o.url);
  } catch {
    throw new FaceIndexError('INVALID_ARGUMENT', 'the Qdrant URL is not a URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new FaceIndexError('INVALID_ARGUMENT', 'the Qdrant URL must be http:// or https://');
  if (u.username || u.password || u.search || u.hash) {
    throw new FaceIndexError('INVALID_ARGUMENT', 'the Qdrant URL must not hold credentials, a query or a fragment (use the API key)');
  }
  const prefix = u.pathname.replace(/\/+$/, '');
  return {
    url: `${u.protocol}//${u.host}`,
    port: u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80,
    ...(prefix ? { prefix } : {}),
    ...(o.apiKey !== undefined ? { apiKey: o.apiKey } : {}),
    timeout: o.timeoutMs,
    // The client would ask the server's version on construction and console.warn when the minor
    // versions differ by more than one. We use only endpoints that are stable across 1.x (points,
    // payload, count, scroll, collections, payload indexes, query since 1.10); the conformance suite
    // run against the deployed server is the real compatibility check.
    checkCompatibility: false,
  };
}
