import { COLLECTION_NAME, ERASABLE_PHOTO_KEY, type PhotoResult, QUEUES, collectionsKey, photoJobId, reclusterCurrentKey, reclusterStatusKey } from '@facepipe/contracts';
import { BlobRefs, BlobStore, JobStore, Queues, ThumbnailStore, settlePhoto } from '@facepipe/pipeline';
import { Injectable } from '@nestjs/common';
import { Redis } from 'ioredis';
import { deletingCollectionsKey } from '../collections/collections.repository';
import { CollectionsService, collectionNotFound } from '../collections/collections.service';
import { ApiError } from '../common/api-error';
import { GatewayLogger } from '../common/gateway-logger';
import { InjectConfig, type GatewayConfig } from '../config/gateway-config';
import { IndexOpsClient } from '../index-ops/index-ops.client';

/** Dropping a big collection's index takes a while; the caller waits for it. */
const DROP_TIMEOUT_MS = 300_000;
/** Photo results read per round trip while taking erased faces out of them. */
const RESULTS_CHUNK = 500;
/** HSET of fields that still exist: a job's results that expired meanwhile are not made again (without a TTL). */
const SET_EXISTING_FIELDS = `
for i = 1, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 0`;
const DETECT_WAITING_STATES = new Set(['waiting', 'wait', 'prioritized', 'delayed', 'paused', 'waiting-children']);

/**
 * Erasure: a photo, an identity's faces, or a whole collection go from everywhere they are kept —
 * the index (vectors and payloads, in the matcher), the thumbnails, the uploaded blobs (when no
 * other photo uses the same bytes), and the per-photo results of the batch jobs. Afterwards no
 * search, listing or thumbnail returns anything of them.
 */
@Injectable()
export class EraseService {
  constructor(
    private readonly indexOps: IndexOpsClient,
    private readonly collections: CollectionsService,
    private readonly thumbnails: ThumbnailStore,
    private readonly blobRefs: BlobRefs,
    private readonly blobs: BlobStore,
    private readonly jobs: JobStore,
    private readonly queues: Queues,
    private readonly redis: Redis,
    private readonly logger: GatewayLogger,
    @InjectConfig() private readonly config: GatewayConfig,
  ) {}

  /** DELETE /v1/collections/{c}/photos/{key} */
  async erasePhoto(collection: string, key: string): Promise<{ collection: string; key: string; faces: number }> {
    const { createdAt } = await this.collections.record(collection);
    if (!ERASABLE_PHOTO_KEY.test(key)) throw photoNotFound(key);
    const pending = await this.stopPending(collection, key, Date.parse(createdAt));
    const erased = await this.eraseFaces(collection, { photoKey: key });
    await this.removeStageJobs(collection, key);
    const hadBlobs = (await this.blobRefs.blobsOf(collection, key)).length > 0;
    await this.deleteBlobs(await this.blobRefs.release(collection, [key]));
    // The photo's entries in the results of the jobs that processed it (its key and counts stay: they are aggregates).
    const jobIds = new Set([...erased.jobIds, ...(pending.jobId ? [pending.jobId] : [])]);
    for (const jobId of jobIds) await this.redis.hdel(this.jobs.keys(jobId).results, key);
    if (erased.photoKeys.length === 0 && !hadBlobs && !pending.jobId) throw photoNotFound(key);
    this.logger.info('photo erased', { collection, faces: erased.deleted });
    return { collection, key, faces: erased.deleted };
  }

  /**
   * Erases faces selected by a payload filter (a photo's, an identity's): their index entries and
   * thumbnails. For the identities feature: `eraseFaces(c, { identityId })`.
   */
  async eraseFaces(collection: string, filter: { photoKey?: string; identityId?: string; personId?: string }, knownFaceIds: readonly string[] = []) {
    const erased = await this.indexOps.call(collection, { type: 'deleteFaces', filter });
    // `knownFaceIds`: faces the caller knew of that an earlier, interrupted erase took from the index.
    await this.thumbnails.delete([...new Set([...erased.faceIds, ...knownFaceIds])]);
    await this.dropFromResults(erased);
    return erased;
  }

  /**
   * Takes erased faces out of the per-photo results of the jobs that indexed them (an identity's
   * faces are some of their photos' faces: each photo keeps its entry, with the others). A result
   * is written once, when its photo settles, so nothing else rewrites these entries meanwhile.
   * Only the job that last indexed each face is known; an earlier job's results of the same photo
   * keep the faces it found then.
   */
  private async dropFromResults(erased: { faceIds: string[]; photoKeys: string[]; jobIds: string[] }): Promise<void> {
    if (erased.faceIds.length === 0) return;
    const gone = new Set(erased.faceIds);
    for (const jobId of erased.jobIds) {
      const results = this.jobs.keys(jobId).results;
      for (let i = 0; i < erased.photoKeys.length; i += RESULTS_CHUNK) {
        const keys = erased.photoKeys.slice(i, i + RESULTS_CHUNK);
        const entries = await this.redis.hmget(results, ...keys);
        const changed: Record<string, string> = {};
        entries.forEach((raw, j) => {
          if (raw === null) return;
          const entry = JSON.parse(raw) as PhotoResult;
          const faces = entry.faces.filter((f) => !gone.has(f.faceId));
          if (faces.length !== entry.faces.length) changed[keys[j]] = JSON.stringify({ ...entry, faces });
        });
        if (Object.keys(changed).length > 0) await this.redis.eval(SET_EXISTING_FIELDS, 1, results, ...Object.entries(changed).flat());
      }
    }
  }

  /** DELETE /v1/collections/{c} */
  async eraseCollection(name: string): Promise<{ name: string; faces: number }> {
    if (!COLLECTION_NAME.test(name)) throw collectionNotFound(name);
    const registry = collectionsKey(this.config.prefix), deleting = deletingCollectionsKey(this.config.prefix);
    const [[, registered], [, resuming]] = (await this.redis.multi().hexists(registry, name).sismember(deleting, name).exec()) as [[unknown, number], [unknown, number]];
    if (!registered && !resuming) throw collectionNotFound(name);
    // Unregistered first: from here the gateway refuses new photos and the matcher refuses in-flight ones.
    await this.redis.multi().hdel(registry, name).sadd(deleting, name).exec();
    const { faces } = await this.indexOps.call(name, { type: 'dropCollection' }, DROP_TIMEOUT_MS);
    await this.thumbnails.dropCollection(name);
    await this.deleteBlobs(await this.blobRefs.releaseCollection(name));
    const recluster = await this.redis.get(reclusterCurrentKey(this.config.prefix, name));
    if (recluster) await this.redis.del(reclusterStatusKey(this.config.prefix, recluster));
    // Stats, blob references, identities, recluster pointer: everything under the collection's keys.
    await this.deleteMatching(`${this.config.prefix}:collection:${name}:*`);
    const jobs = await this.deleteJobsOf(name);
    await this.redis.srem(deleting, name);
    this.logger.info('collection erased', { collection: name, faces, jobs });
    return { name, faces };
  }

  /**
   * A photo still on its way through the pipeline would be indexed after its erasure: a waiting one
   * is taken off the queue (its job settles it as PHOTO_ERASED); one being processed is 409.
   */
  private async stopPending(collection: string, key: string, collectionCreatedAt: number): Promise<{ jobId?: string }> {
    const queue = this.queues.get(QUEUES.detect);
    const id = photoJobId(collection, key);
    const job = await queue.getJob(id);
    if (!job) return {};
    const jobId = (job.data as { jobId?: string } | undefined)?.jobId;
    const state = await job.getState();
    // A finished stage job is kept a day: a finished one older than the collection is of a deleted
    // namesake, not this photo. (Only finished ones: a waiting photo is always stopped, whatever
    // the clocks of the gateways that created the collection and queued the photo say.)
    if ((state === 'completed' || state === 'failed') && job.timestamp < collectionCreatedAt) return {};
    const inProgress = () =>
      new ApiError(409, 'PHOTO_IN_PROGRESS', `Photo ${JSON.stringify(key)} is being processed; erase it once its job has settled it`);
    if (DETECT_WAITING_STATES.has(state)) {
      if ((await queue.remove(id)) !== 1) throw inProgress(); // a worker took it meanwhile
      if (jobId) {
        await settlePhoto(this.queues, this.jobs, jobId, { key, status: 'failed', faces: [], error: { code: 'PHOTO_ERASED', message: 'The photo was erased before it was processed' } }).catch(
          (err: unknown) => this.logger.warn('could not settle an erased photo', { jobId, error: err instanceof Error ? err.message : String(err) }),
        );
      }
      return { jobId };
    }
    if (state === 'active') throw inProgress();
    // Detected; it may still be in the embed or match stage until its job has its result.
    if (jobId && (await this.redis.exists(this.jobs.keys(jobId).meta)) && !(await this.redis.hexists(this.jobs.keys(jobId).results, key))) throw inProgress();
    return { jobId };
  }

  /**
   * The photo's finished jobs of each stage, which BullMQ keeps for a day: they hold its source,
   * its face crops (embed) and its embeddings (match). Ids as the detector gives them (chainJobId).
   */
  private async removeStageJobs(collection: string, key: string): Promise<void> {
    const detect = this.queues.get(QUEUES.detect);
    const id = photoJobId(collection, key);
    const job = await detect.getJob(id);
    if (!job) return;
    const chain = `${job.id}-${job.timestamp}`;
    for (const queue of [QUEUES.embed, QUEUES.match]) await this.queues.get(queue).remove(chain);
    await detect.remove(id);
  }

  private async deleteBlobs(blobIds: string[]): Promise<void> {
    for (const blobId of blobIds) await this.blobs.delete(blobId);
  }

  private async deleteMatching(pattern: string): Promise<number> {
    let cursor = '0', deleted = 0;
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await this.redis.unlink(...keys);
    } while (cursor !== '0');
    return deleted;
  }

  /** Batch job records of the collection (meta, keys, results, deliveries). A scan: deleting a collection is rare. */
  private async deleteJobsOf(collection: string): Promise<number> {
    let deleted = 0;
    for await (const job of this.jobs.scan(['collection'])) {
      if (job.fields[0] !== collection) continue;
      const k = this.jobs.keys(job.id);
      await this.redis.unlink(k.meta, k.keys, k.results, k.deliveries);
      deleted++;
    }
    return deleted;
  }
}

function photoNotFound(key: string): ApiError {
  return ApiError.notFound('PHOTO_NOT_FOUND', `Photo ${JSON.stringify(key.slice(0, 200))} does not exist`);
}
