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
 * Starts a recluster unless one is queued or running for the collection: answers that one's
 * status (JSON), or nil once it has set the new one as the collection's current.
 * KEYS: current job of the collection, new status. ARGV: status key prefix, job id, status, TTL (s).
 */
const START_RECLUSTER = `
local current = redis.call('GET', KEYS[1])
if current then
  local status = redis.call('GET', ARGV[1] .. current)
  if status then
    local state = cjson.decode(status).state
    if state == 'queued' or state == 'running' then return status end
  end
end
redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[4])
return false`;

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
   * queued or running for the collection, asking again with its settings answers that one, and
   * with others is 409.
   */
  async recluster(collection: string, body: { minFaces: number; eps?: number }): Promise<{ jobId: string; started: boolean }> {
    await this.collections.assertExists(collection);
    const eps = body.eps ?? this.config.clusterThreshold;
    const jobId = `r${randomBytes(12).toString('hex')}`;
    const status: ReclusterStatus = { jobId, collection, state: 'queued', minFaces: body.minFaces, eps, createdAt: new Date().toISOString() };
    // One script: two requests at once must not both start one.
    const running = (await this.redis.eval(
      START_RECLUSTER,
      2,
      reclusterCurrentKey(this.config.prefix, collection),
      reclusterStatusKey(this.config.prefix, jobId),
      reclusterStatusKey(this.config.prefix, ''),
      jobId,
      JSON.stringify(status),
      String(RECLUSTER_STATUS_TTL_S),
    )) as string | null;
    if (running !== null) {
      const other = JSON.parse(running) as ReclusterStatus;
      // The same request again is that job; other settings would be silently dropped.
      if (other.minFaces === body.minFaces && other.eps === eps) return { jobId: other.jobId, started: false };
      throw new ApiError(409, 'RECLUSTER_IN_PROGRESS', `Recluster ${other.jobId} (minFaces ${other.minFaces}, eps ${other.eps}) is still ${other.state} on "${collection}"; ask again once it has finished`);
    }
    await this.indexOps.enqueue({ requestId: jobId, collection, op: { type: 'recluster', minFaces: body.minFaces, eps } });
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
