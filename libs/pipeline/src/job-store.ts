import type { JobView, PhotoResult } from '@facepipe/contracts';
import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { ADD_PHOTOS, CREATE_JOB, RECORD_DELIVERY, RESULTS_PAGE, SEAL_JOB, SETTLE_PHOTO } from './job-store-scripts';
import { PipelineError } from './pipeline-error';
import { redactUrl } from './redis';

export interface CreateJobInput {
  collection: string;
  /** Sealed: no photos will be added (a job created sealed is empty, so complete at once). */
  sealed: boolean;
  webhook?: { url: string; secret?: string };
}

/**
 * An add whose photos were counted on their job but may never have been queued: its gateway died
 * in between. `keys`: those of its photos that have not settled.
 */
export interface StrandedAdd {
  token: string;
  jobId: string;
  collection: string;
  keys: string[];
}

export interface WebhookDelivery {
  at: string;
  status: number | null;
  error?: string;
}

/** The ioredis commands that `defineCommand` adds for the scripts. */
interface JobStoreCommands {
  facepipeJobCreate(meta: string, keys: string, results: string, deliveries: string, creating: string, ...args: string[]): Promise<number>;
  facepipeJobAddPhotos(meta: string, keys: string, adding: string, now: string, ...photoKeys: string[]): Promise<number | string[]>;
  facepipeJobSeal(meta: string, keys: string, results: string, deliveries: string, now: string, retention: string): Promise<number>;
  facepipeJobSettle(meta: string, keys: string, results: string, deliveries: string, ...args: string[]): Promise<number>;
  facepipeJobRecordDelivery(meta: string, deliveries: string, json: string, keep: string): Promise<number>;
  facepipeJobResults(meta: string, keys: string, results: string, after: string, limit: string, budget: string): Promise<number | string[]>;
}

const JOB_ID = /^j[0-9a-f]{24}$/;
/** Deliveries kept per job: the view shows recent attempts, not a full audit log. */
export const MAX_DELIVERIES = 50;
export const MAX_RESULTS_PAGE = 1_000;

/**
 * Batch jobs in Redis: the record of an ingest request, counting its photos as they settle and
 * noticing — exactly once — when the last one has. Every mutation is one Lua script (see
 * job-store-scripts.ts): nothing is read in Node and written back.
 *
 * Keys: `<prefix>:job:<id>` (hash: metadata and counters), `…:keys` (zset: photo keys, score =
 * insertion order), `…:results` (hash: photo key → PhotoResult JSON), `…:deliveries` (list: JSON).
 * A completed job's keys expire together after `retentionSeconds` (0: kept for ever); a job that
 * is still open or running is kept until it completes.
 */
export class JobStore {
  private readonly redis: Redis & JobStoreCommands;
  private readonly retention: string;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    /** How long a completed job is kept (FACEPIPE_JOB_RETENTION_DAYS); 0 keeps it for ever. */
    retentionSeconds: number,
  ) {
    if (!Number.isInteger(retentionSeconds) || retentionSeconds < 0) throw new RangeError(`retentionSeconds must be an integer ≥ 0, got ${retentionSeconds}`);
    this.retention = String(retentionSeconds);
    // defineCommand loads each script by SHA on first use and re-sends it after a SCRIPT FLUSH.
    redis.defineCommand('facepipeJobCreate', { numberOfKeys: 5, lua: CREATE_JOB });
    redis.defineCommand('facepipeJobAddPhotos', { numberOfKeys: 3, lua: ADD_PHOTOS });
    redis.defineCommand('facepipeJobSeal', { numberOfKeys: 4, lua: SEAL_JOB });
    redis.defineCommand('facepipeJobSettle', { numberOfKeys: 4, lua: SETTLE_PHOTO });
    redis.defineCommand('facepipeJobRecordDelivery', { numberOfKeys: 2, lua: RECORD_DELIVERY });
    redis.defineCommand('facepipeJobResults', { numberOfKeys: 3, lua: RESULTS_PAGE });
    this.redis = redis as Redis & JobStoreCommands;
  }

  /** The Redis keys of a job. */
  keys(id: string): { meta: string; keys: string; results: string; deliveries: string } {
    const meta = `${this.prefix}:job:${id}`;
    return { meta, keys: `${meta}:keys`, results: `${meta}:results`, deliveries: `${meta}:deliveries` };
  }

  /** Jobs created open whose creator has not handed their id out yet (CREATE_JOB): id → when. */
  private get creatingKey(): string {
    return `${this.prefix}:jobs:creating`;
  }

  /** Adds counted but not yet known to be queued (ADD_PHOTOS): token → when. */
  private get addingKey(): string {
    return `${this.prefix}:jobs:adding`;
  }

  /**
   * A new job with id 'j' + 24 random hex digits, without photos (addPhotos). One created sealed is
   * complete at once (its view says so; there is no settle to report it). One created open counts
   * as unanswered until markAnswered: its creator must hand the id out, or nobody could seal it.
   */
  async create(input: CreateJobInput): Promise<JobView> {
    for (;;) {
      const id = `j${randomBytes(12).toString('hex')}`;
      const k = this.keys(id);
      const args = [id, input.collection, input.sealed ? '1' : '0', new Date().toISOString(), input.webhook?.url ?? '', input.webhook?.secret ?? '', this.retention, String(Date.now())];
      const created = await this.redis.facepipeJobCreate(k.meta, k.keys, k.results, k.deliveries, this.creatingKey, ...args);
      if (created >= 0) return (await this.get(id))!;
      // -1: 96 random bits collided with an existing job; draw again.
    }
  }

  async get(id: string): Promise<JobView | null> {
    if (!JOB_ID.test(id)) return null;
    const k = this.keys(id);
    // MULTI: the counters and the deliveries come from the same instant.
    const res = await this.redis.multi().hgetall(k.meta).lrange(k.deliveries, 0, -1).exec();
    const [metaRes, deliveriesRes] = res ?? [];
    if (metaRes?.[0]) throw metaRes[0];
    if (deliveriesRes?.[0]) throw deliveriesRes[0];
    const h = metaRes?.[1] as Record<string, string> | undefined;
    if (!h || !h.id) return null;
    return toView(h, (deliveriesRes?.[1] as string[]).map((d) => JSON.parse(d) as WebhookDelivery));
  }

  /**
   * Adds photos to an open job and answers the keys that are new to it. A key already in the job is
   * ignored (a retried request is harmless; a job takes each key once), so only `added` may be
   * queued. Once they are, call markQueued(token): until then the add counts as in progress, and
   * one still unmarked after a while is a stranded add (strandedAdds). `token` is null when nothing
   * was new.
   */
  async addPhotos(id: string, keys: string[]): Promise<{ added: string[]; token: string | null }> {
    const k = this.keys(this.checkId(id));
    const r = await this.redis.facepipeJobAddPhotos(k.meta, k.keys, this.addingKey, String(Date.now()), ...keys);
    if (r === -1) throw jobNotFound(id);
    if (r === -2) throw new PipelineError('JOB_SEALED', `job ${id} is sealed: no more photos can be added`);
    const [token, ...added] = r as string[];
    return { added, token: token || null };
  }

  /** The photos of an add are on the queue (or settled): it is no longer in progress. */
  async markQueued(token: string): Promise<void> {
    await this.redis.zrem(this.addingKey, token);
  }

  /**
   * Adds counted before `before` (ms) and never marked queued: a gateway died between counting
   * and queueing them, or is still at it when `before` is recent. At most `limit` of them, oldest
   * first; adds whose job is gone are dropped on the way.
   */
  async strandedAdds(before: number, limit = 100): Promise<StrandedAdd[]> {
    const tokens = await this.redis.zrangebyscore(this.addingKey, '-inf', before, 'LIMIT', 0, limit);
    const out: StrandedAdd[] = [];
    for (const token of tokens) {
      const m = /^(j[0-9a-f]{24}):(\d+):(\d+)$/.exec(token);
      const k = m && this.keys(m[1]);
      const collection = k && (await this.redis.hget(k.meta, 'collection'));
      if (!m || !k || !collection) {
        await this.markQueued(token);
        continue;
      }
      const keys = await this.redis.zrangebyscore(k.keys, `(${m[2]}`, m[3]);
      const unsettled: string[] = [];
      for (let i = 0; i < keys.length; i += 1000) {
        const chunk = keys.slice(i, i + 1000);
        const results = await this.redis.hmget(k.results, ...chunk);
        chunk.forEach((key, j) => results[j] === null && unsettled.push(key));
      }
      out.push({ token, jobId: m[1], collection, keys: unsettled });
    }
    return out;
  }

  /** The creator of an open job has handed its id out (or the job was sealed on its behalf). */
  async markAnswered(id: string): Promise<void> {
    await this.redis.zrem(this.creatingKey, id);
  }

  /**
   * Jobs created open before `before` (ms) whose creator never handed their id out: a gateway died
   * (or failed) between creating the job and answering the request, so no client can add to it or
   * seal it. At most `limit`, oldest first.
   */
  async unansweredCreates(before: number, limit = 100): Promise<string[]> {
    return this.redis.zrangebyscore(this.creatingKey, '-inf', before, 'LIMIT', 0, limit);
  }

  /** No more photos will come. If all have settled already, this completes the job (completedNow). */
  async seal(id: string): Promise<{ view: JobView; completedNow: boolean }> {
    const k = this.keys(this.checkId(id));
    const r = await this.redis.facepipeJobSeal(k.meta, k.keys, k.results, k.deliveries, new Date().toISOString(), this.retention);
    if (r === -1) throw jobNotFound(id);
    const view = await this.get(id);
    if (!view) throw jobNotFound(id);
    return { view, completedNow: r === 1 };
  }

  /**
   * Records a photo's outcome. Counts move once per photo however often it settles (a matcher
   * retry, a re-run): a later settle replaces the result and shifts the counts by the difference.
   * `completedNow` is true for exactly one call per job: the one that settles the last photo of a
   * sealed job (or see `seal`).
   */
  async settlePhoto(id: string, result: PhotoResult): Promise<{ completedNow: boolean }> {
    const k = this.keys(this.checkId(id));
    if (result.status !== 'done' && result.status !== 'failed') throw new TypeError(`invalid photo status ${String(result.status)}`);
    const r = await this.redis.facepipeJobSettle(
      k.meta,
      k.keys,
      k.results,
      k.deliveries,
      result.key,
      result.status,
      String(result.faces.length),
      JSON.stringify(result),
      new Date().toISOString(),
      this.retention,
    );
    if (r === -1) throw jobNotFound(id);
    if (r === -2) throw new PipelineError('PHOTO_NOT_IN_JOB', `photo ${JSON.stringify(result.key)} was never added to job ${id}`);
    return { completedNow: r === 1 };
  }

  /**
   * Settled results in the order their keys were added. Pass `next` back as `cursor` for the
   * following page; no `next` means the end. A page may hold fewer than `limit` items while photos
   * are still pending. `limit` is clamped to 1…1000.
   */
  async results(id: string, opts: { cursor?: string; limit: number }): Promise<{ items: PhotoResult[]; next?: string }> {
    const k = this.keys(this.checkId(id));
    const cursor = opts.cursor ?? '0';
    if (!/^\d{1,15}$/.test(cursor)) throw new PipelineError('INVALID_CURSOR', 'cursor must be a value returned as `next`');
    const limit = Math.max(1, Math.min(MAX_RESULTS_PAGE, Math.floor(opts.limit) || 1));
    const budget = Math.max(1_000, limit * 10);
    const r = await this.redis.facepipeJobResults(k.meta, k.keys, k.results, cursor, String(limit), String(budget));
    if (r === -1 || !Array.isArray(r)) throw jobNotFound(id);
    const [next, ...items] = r;
    return { items: items.map((s) => JSON.parse(s) as PhotoResult), ...(next ? { next } : {}) };
  }

  /** True once the job has completed (its last photo settled after it was sealed). */
  async isCompleted(id: string): Promise<boolean> {
    if (!JOB_ID.test(id)) return false;
    return (await this.redis.hget(this.keys(id).meta, 'completed')) === '1';
  }

  /** The webhook target with its signing secret, which JobView never carries. */
  async webhookOf(id: string): Promise<{ url: string; secret?: string } | null> {
    if (!JOB_ID.test(id)) return null;
    const [url, secret] = await this.redis.hmget(this.keys(id).meta, 'webhookUrl', 'webhookSecret');
    if (!url) return null;
    return secret ? { url, secret } : { url };
  }

  /** Appends a webhook attempt (the latest MAX_DELIVERIES are kept), shown in view.webhook.deliveries. */
  async recordDelivery(id: string, d: WebhookDelivery): Promise<void> {
    const k = this.keys(this.checkId(id));
    const json = JSON.stringify({ at: d.at, status: d.status, ...(d.error !== undefined ? { error: d.error } : {}) });
    const r = await this.redis.facepipeJobRecordDelivery(k.meta, k.deliveries, json, String(MAX_DELIVERIES));
    if (r === -1) throw jobNotFound(id);
  }

  /**
   * Every job with the named fields of its meta hash (null where unset), walked with SCAN a page
   * at a time, so Redis is never blocked. A job created or removed during the walk may or may not
   * be seen; removing the job just yielded is safe.
   */
  async *scan(fields: string[]): AsyncGenerator<{ id: string; fields: (string | null)[] }> {
    // The glob may match more than jobs (another prefix with glob characters); the regex decides.
    const meta = new RegExp(`^${this.prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:job:(j[0-9a-f]{24})$`);
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}:job:j*`, 'COUNT', 1000);
      cursor = next;
      const ids = keys.flatMap((k) => meta.exec(k)?.[1] ?? []);
      if (ids.length === 0) continue;
      const pipeline = this.redis.pipeline();
      for (const id of ids) pipeline.hmget(this.keys(id).meta, ...fields);
      const rows = (await pipeline.exec()) ?? [];
      for (let i = 0; i < ids.length; i++) {
        const [err, values] = rows[i];
        if (err) throw err;
        yield { id: ids[i], fields: values as (string | null)[] };
      }
    } while (cursor !== '0');
  }

  /** Ids come from URLs: one that cannot be ours must not reach a key name. */
  private checkId(id: string): string {
    if (!JOB_ID.test(id)) throw jobNotFound(id);
    return id;
  }
}

function jobNotFound(id: string): PipelineError {
  return new PipelineError('JOB_NOT_FOUND', `job ${JSON.stringify(id.slice(0, 80))} does not exist`);
}

/**
 * State is derived, not stored: queued until a photo settles, running until sealed and all
 * settled, then completed — or failed when every photo of a non-empty job failed.
 */
function toView(h: Record<string, string>, deliveries: WebhookDelivery[]): JobView {
  const total = Number(h.total), done = Number(h.done), failed = Number(h.failed);
  const completed = h.completed === '1';
  const state: JobView['state'] = completed ? (total > 0 && failed === total ? 'failed' : 'completed') : done + failed > 0 ? 'running' : 'queued';
  return {
    id: h.id,
    collection: h.collection,
    state,
    sealed: h.sealed === '1',
    total,
    done,
    failed,
    faces: Number(h.faces),
    createdAt: h.createdAt,
    ...(h.finishedAt ? { finishedAt: h.finishedAt } : {}),
    ...(h.webhookUrl ? { webhook: { url: redactUrl(h.webhookUrl), deliveries } } : {}),
  };
}
