import { type EnrollResult, type FaceView, IDENTITY_ID, type IdentityRecord, type PhotoSource, enrollPhotoKey } from '@facepipe/contracts';
import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { CollectionsService } from '../collections/collections.service';
import { ApiError } from '../common/api-error';
import { InjectConfig, type GatewayConfig } from '../config/gateway-config';
import { EraseService } from '../erase/erase.service';
import { IndexOpsClient } from '../index-ops/index-ops.client';
import { SyncCalls } from '../recognition/sync-calls.service';
import type { CreateIdentity, DeleteIdentityResponse, IdentityPage, IdentityWithFaces, UpdateIdentity } from './identities.schemas';
import { IdentitiesRepository } from './identities.repository';

/** GET of an identity lists its faces; past this many it is not a person any more but a mistake. */
const MAX_LISTED_FACES = 10_000;
const FACE_PAGE = 1000;

/**
 * Identities of a collection: named people with their own enrolled faces, found by 1:N search.
 * The records live in Redis; the faces live in the face index, reached through the matcher (index
 * operations for reading, erasing and detaching them; the synchronous enrol call for adding them).
 */
@Injectable()
export class IdentitiesService {
  constructor(
    private readonly repo: IdentitiesRepository,
    private readonly collections: CollectionsService,
    private readonly indexOps: IndexOpsClient,
    private readonly erasure: EraseService,
    private readonly sync: SyncCalls,
    @InjectConfig() private readonly config: GatewayConfig,
  ) {}

  async create(collection: string, body: CreateIdentity): Promise<IdentityRecord> {
    await this.collections.assertExists(collection);
    const outcome = await this.repo.create(collection, { ...body, createdAt: new Date().toISOString() });
    if ('taken' in outcome) throw externalIdTaken(body.externalId!, outcome.taken);
    return outcome.record;
  }

  async get(collection: string, id: string): Promise<IdentityWithFaces> {
    const record = await this.existing(collection, id);
    return { ...record, faces: await this.faces(collection, id) };
  }

  async list(collection: string, query: { cursor?: string; limit: number; externalId?: string }): Promise<IdentityPage> {
    await this.collections.assertExists(collection);
    if (query.cursor !== undefined && !IDENTITY_ID.test(query.cursor)) throw ApiError.badRequest('INVALID_CURSOR', 'cursor is not one this API gave', 'cursor');
    if (query.externalId !== undefined) {
      const record = await this.repo.byExternalId(collection, query.externalId);
      return { items: record ? [record] : [] };
    }
    return this.repo.page(collection, query.cursor, query.limit);
  }

  async update(collection: string, id: string, body: UpdateIdentity): Promise<IdentityRecord> {
    await this.existing(collection, id);
    const outcome = await this.repo.replace(collection, id, (record) => {
      const next: IdentityRecord = { ...record, updatedAt: new Date().toISOString() };
      if (body.name !== undefined) next.name = body.name;
      for (const field of ['externalId', 'metadata'] as const) {
        const value = body[field];
        if (value === null) delete next[field];
        else if (value !== undefined) (next as unknown as Record<string, unknown>)[field] = value;
      }
      return next;
    });
    if (!outcome.ok) throw outcome.reason === 'missing' ? identityNotFound(id) : externalIdTaken(body.externalId!, outcome.owner);
    return outcome.record!;
  }

  /**
   * Without `erase`, the identity's faces stay in the collection as one unknown person (pinned, so
   * reclustering keeps them together) and leave 1:N search. With `erase`, they go from the index and
   * their thumbnails with them. The record goes first: from then on no enrolment or naming can add
   * a face to the identity (the matcher checks the record in its serial order, before the faces
   * are handled here). The deletion stays marked until its faces are handled, so a DELETE cut off
   * half-way can simply be repeated; a concurrent DELETE of the other mode is 409.
   */
  async delete(collection: string, id: string, erase: boolean): Promise<DeleteIdentityResponse> {
    await this.collections.assertExists(collection);
    if (!IDENTITY_ID.test(id)) throw identityNotFound(id);
    const started = await this.repo.startDelete(collection, id, erase ? 'erase' : 'detach');
    if (!started.ok && started.reason === 'missing') throw identityNotFound(id);
    if (!started.ok && started.reason === 'busy') {
      throw ApiError.conflict('IDENTITY_BEING_DELETED', `Identity ${id} is being deleted with erase=${started.mode === 'erase'}; repeat that request to finish it`);
    }
    let response: DeleteIdentityResponse;
    if (erase) {
      // The faces' ids are kept until the end: an erase cut off after the index let go of them
      // (the queued deletion ran after its gateway died) must still find their thumbnails.
      await this.repo.rememberErasedFaces(collection, id, (await this.faces(collection, id, Infinity)).map((f) => f.faceId));
      const erased = await this.erasure.eraseFaces(collection, { identityId: id }, await this.repo.erasedFaces(collection, id));
      response = { id, erased: true, faces: erased.deleted };
    } else {
      const personId = detachedPersonId(id);
      const patch = { kind: 'person', identityId: null, personId, pinned: true };
      const { updated } = await this.indexOps.call(collection, { type: 'setPayload', filter: { identityId: id }, patch });
      response = updated > 0 ? { id, erased: false, faces: updated, personId } : { id, erased: false, faces: 0 };
    }
    await this.repo.finishDelete(collection, id);
    return response;
  }

  /** Enrols the largest face of the photo (every face with `all`) into the identity, through the pipeline. */
  async enroll(collection: string, id: string, source: PhotoSource, all: boolean): Promise<EnrollResult> {
    await this.existing(collection, id);
    return this.sync.run({
      collection,
      key: enrollPhotoKey(id, photoDigest(source)),
      source,
      request: { op: 'enroll', identityId: id, all, minQuality: this.config.enrollMinQuality },
    });
  }

  /** 404 COLLECTION_NOT_FOUND or IDENTITY_NOT_FOUND unless both exist. */
  async existing(collection: string, id: string): Promise<IdentityRecord> {
    await this.collections.assertExists(collection);
    const record = IDENTITY_ID.test(id) ? await this.repo.get(collection, id) : null;
    if (!record) throw identityNotFound(id);
    return record;
  }

  /**
   * The identity's faces, a page of the index at a time, up to `max` (the GET's listing stops at
   * MAX_LISTED_FACES; an erasure needs every one).
   */
  private async faces(collection: string, identityId: string, max = MAX_LISTED_FACES): Promise<FaceView[]> {
    const faces: FaceView[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.indexOps.call(collection, { type: 'listIdentityFaces', identityId, limit: FACE_PAGE, ...(cursor ? { cursor } : {}) });
      faces.push(...page.items);
      cursor = page.next;
    } while (cursor && faces.length < max);
    return faces;
  }
}

export function identityNotFound(id: string): ApiError {
  return ApiError.notFound('IDENTITY_NOT_FOUND', `Identity ${id} does not exist`);
}

function externalIdTaken(externalId: string, owner: string): ApiError {
  return ApiError.conflict('EXTERNAL_ID_EXISTS', `externalId "${externalId}" already belongs to identity ${owner}`);
}

/** The unknown person that a deleted (not erased) identity's faces become: one per identity, stable. */
export function detachedPersonId(identityId: string): string {
  return 'person_' + createHash('sha256').update(`identity\u0000${identityId}`).digest('hex').slice(0, 24);
}

/** The photo part of an enrolled photo's key: its content for an upload, its address otherwise. */
function photoDigest(source: PhotoSource): string {
  if (source.kind === 'blob') return (source.sha256 ?? source.blobId).slice(0, 32);
  const address = source.kind === 'url' ? source.url : source.path;
  return createHash('sha256').update(`${source.kind}\u0000${address}`).digest('hex').slice(0, 32);
}
