import {
  type FacePage,
  type PeoplePage,
  type ReclusterStatus,
  collectionOfFaceId,
  reclusterCurrentKey,
  reclusterStatusKey,
} from '@facepipe/contracts';
import { RequestError } from '@facepipe/pipeline';
import { Injectable } from '@nestjs/common';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { faceNotFound } from '../access/access.guard';
import { CollectionsService } from '../collections/collections.service';
import { ApiError } from '../common/api-error';
import { InjectConfig, type GatewayConfig } from '../config/gateway-config';
import { IndexOpsClient } from '../index-ops/index-ops.client';
import { IdentityRecords } from './identity-records';

/** How long a recluster status stays readable (the matcher refreshes it while the job runs). */
const RECLUSTER_STATUS_TTL_S = 7 * 86_400;

/**
 * Unknown people of a collection: listing them, naming one into an identity, merging, moving a
 * face, and full re-clustering. The face index belongs to the matcher-worker, so every operation
 * is an index operation it runs (IndexOpsClient); this service checks the collection and the
 * identities, and tracks recluster jobs.
 */
@Injectable()
export class PeopleService {
  constructor(
    private readonly indexOps: IndexOpsClient,
    private readonly collections: CollectionsService,
    private readonly identities: IdentityRecords,
    private readonly redis: Redis,
    @InjectConfig() private readonly config: GatewayConfig,
  ) {}

  async list(collection: string, page: { cursor?: string; limit: number }): Promise<PeoplePage> {
    await this.collections.assertExists(collection);
    return this.indexOps.call(collection, { type: 'listPeople', ...page });
  }

  async faces(collection: string, personId: string, page: { cursor?: string; limit: number }): Promise<FacePage> {
    await this.collections.assertExists(collection);
    return this.indexOps.call(collection, { type: 'personFaces', personId, ...page });
  }

  /** The person's faces become an identity's: a new one named `name`, or the existing `identityId`. */
  async name(collection: string, personId: string, body: { name?: string; identityId?: string }): Promise<{ identityId: string; name?: string; faces: number }> {
    await this.collections.assertExists(collection);
    if (body.identityId !== undefined) {
      if (!(await this.identities.exists(collection, body.identityId))) {
        throw ApiError.notFound('IDENTITY_NOT_FOUND', `Identity ${body.identityId} does not exist`);
      }
      const r = await this.indexOps.call(collection, { type: 'namePerson', personId, identityId: body.identityId });
      return { identityId: r.identityId, faces: r.faces };
    }
    const identity = await this.identities.create(collection, body.name!);
    try {
      const r = await this.indexOps.call(collection, { type: 'namePerson', personId, identityId: identity.id });
      return { identityId: identity.id, name: identity.name, faces: r.faces };
    } catch (err) {
      // No such person: the identity made for it would be an empty one nobody asked for.
      if (err instanceof RequestError && err.status === 404) await this.identities.remove(collection, identity.id);
      throw err;
    }
  }

  async merge(collection: string, body: { ids: string[]; into?: string }): Promise<{ personId: string; faces: number }> {
    await this.collections.assertExists(collection);
    return this.indexOps.call(collection, { type: 'mergePeople', ...body });
  }

  async move(collection: string, faceId: string, body: { personId?: string; newPerson?: true }): Promise<{ faceId: string; personId: string }> {
    await this.collections.assertExists(collection);
    if (collectionOfFaceId(faceId) !== collection) throw faceNotFound(faceId);
    return this.indexOps.call(collection, { type: 'moveFace', faceId, ...body });
  }

  /**
   * Starts a full re-clustering in the matcher and answers at once with its job id; while one is
   * queued or running for the collection, asking again answers that one.
   */
  async recluster(collection: string, body: { minFaces: number; eps?: number }): Promise<{ jobId: string; started: boolean }> {
    await this.collections.assertExists(collection);
    const currentKey = reclusterCurrentKey(this.config.prefix, collection);
    const current = await this.redis.get(currentKey);
    const eps = body.eps ?? this.config.clusterThreshold;
    if (current) {
      const status = await this.readStatus(current);
      if (status && (status.state === 'queued' || status.state === 'running')) {
        // The same request again is that job; other settings would be silently dropped.
        if (status.minFaces === body.minFaces && status.eps === eps) return { jobId: current, started: false };
        throw new ApiError(409, 'RECLUSTER_IN_PROGRESS', `Recluster ${current} (minFaces ${status.minFaces}, eps ${status.eps}) is still ${status.state} on "${collection}"; ask again once it has finished`);
      }
    }
    const jobId = `r${randomBytes(12).toString('hex')}`;
    const status: ReclusterStatus = {
      jobId,
      collection,
      state: 'queued',
      minFaces: body.minFaces,
      eps,
      createdAt: new Date().toISOString(),
    };
    await this.redis
      .multi()
      .set(reclusterStatusKey(this.config.prefix, jobId), JSON.stringify(status), 'EX', RECLUSTER_STATUS_TTL_S)
      .set(currentKey, jobId, 'EX', RECLUSTER_STATUS_TTL_S)
      .exec();
    await this.indexOps.enqueue({ requestId: jobId, collection, op: { type: 'recluster', minFaces: body.minFaces, eps: status.eps } });
    return { jobId, started: true };
  }

  async reclusterStatus(collection: string, jobId: string): Promise<ReclusterStatus> {
    await this.collections.assertExists(collection);
    const status = await this.readStatus(jobId);
    if (!status || status.collection !== collection) throw ApiError.notFound('RECLUSTER_JOB_NOT_FOUND', `Recluster job ${jobId} does not exist`);
    return status;
  }

  private async readStatus(jobId: string): Promise<ReclusterStatus | null> {
    if (!/^r[0-9a-f]{24}$/.test(jobId)) return null;
    const raw = await this.redis.get(reclusterStatusKey(this.config.prefix, jobId));
    return raw ? (JSON.parse(raw) as ReclusterStatus) : null;
  }
}
