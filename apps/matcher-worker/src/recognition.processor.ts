import {
  type EnrollResult,
  type IdentityMatch,
  type IdentityRecord,
  type SearchResult,
  type SyncMatchJob,
  type SyncRequest,
  collectionsKey,
  decodeFloat32,
  faceId,
  identitiesKey,
} from '@facepipe/contracts';
import { type FaceIndex, FaceIndexError, type FacePayload, type Hit, type IndexedFace, MAX_K } from '@facepipe/face-index';
import { type CollectionRegistry, RequestError, failSyncCall, sendReply } from '@facepipe/pipeline';
import { dimensionMismatchMessage, isDimensionMismatch } from './match.processor';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { CollectionStats } from './collection-stats';
import type { Serial } from './serial';

type Op<T extends SyncRequest['op']> = Extract<SyncRequest, { op: T }>;

/**
 * Face hits asked per searched face: more than k, because an identity may own many faces and the
 * hits are grouped by identity (best similarity each) before the top k are kept.
 */
export function hitsFor(k: number): number {
  return Math.max(50, k * 4);
}

/**
 * The match stage of a synchronous call: 1:N search over a collection's identity faces, and
 * enrolment of faces into an identity. Both run in the process's one Serial with every other
 * index writer, so a search sees each enrolment that was answered before it.
 */
export class RecognitionProcessor {
  constructor(
    private readonly index: FaceIndex,
    private readonly stats: CollectionStats,
    private readonly registry: CollectionRegistry,
    private readonly serial: Serial,
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async process(job: Job<SyncMatchJob>): Promise<unknown> {
    const data = job.data;
    const { request } = data;
    try {
      const result = await this.serial.run(async () => {
        // A search checks that its collection exists in the same round trip as it names the identities.
        if (request.op === 'search') return this.search(data, request);
        if (!(await this.registry.exists(data.collection))) throw collectionNotFound(data.collection);
        if (request.op === 'enroll') return this.enroll(data, request);
        throw new RequestError(400, 'INVALID_OPERATION', `the matcher does not answer "${request.op}"`);
      });
      await sendReply(this.redis, this.prefix, request.id, { ok: true, result });
      return { op: request.op, faces: data.faces.length };
    } catch (err) {
      const e =
        err instanceof FaceIndexError && err.code === 'INVALID_ARGUMENT'
          ? new RequestError(400, 'VALIDATION_FAILED', err.message)
          : isDimensionMismatch(err)
            ? new RequestError(409, 'DIMENSION_MISMATCH', dimensionMismatchMessage(err))
            : err;
      return failSyncCall(this.redis, this.prefix, job, request.id, e, e instanceof RequestError && e.status < 500);
    }
  }

  private async search(data: SyncMatchJob, request: Op<'search'>): Promise<SearchResult> {
    const ranked: [string, number][][] = [];
    for (const f of data.faces) ranked.push(await this.rankedIdentities(data.collection, decodeFloat32(f.embedding), request.k, request.exact));
    // One round trip: does the collection (still) exist, and the names of every face's candidates.
    const wanted = [...new Set(ranked.flatMap((r) => r.map(([id]) => id)))];
    const read = this.redis.pipeline().hexists(collectionsKey(this.prefix), data.collection);
    if (wanted.length > 0) read.hmget(identitiesKey(this.prefix, data.collection), ...wanted);
    const [[existsErr, exists], [recordsErr, records] = [null, []]] = (await read.exec())!;
    if (existsErr || recordsErr) throw existsErr ?? recordsErr;
    if (exists !== 1) throw collectionNotFound(data.collection);
    const names = new Map<string, string>();
    wanted.forEach((id, i) => {
      const raw = (records as (string | null)[])[i];
      // No record: the identity was deleted while its faces were being detached or erased.
      if (raw !== null) names.set(id, (JSON.parse(raw) as IdentityRecord).name);
    });
    const faces: SearchResult['faces'] = data.faces.map((f, i) => {
      const candidates: IdentityMatch[] = [];
      for (const [identityId, similarity] of ranked[i]) {
        const name = names.get(identityId);
        if (name !== undefined && candidates.length < request.k) candidates.push({ identityId, name, similarity });
      }
      const best = candidates[0];
      return { box: f.box, score: f.score, candidates, match: best && best.similarity >= request.threshold ? best : null };
    });
    return { faces, threshold: request.threshold };
  }

  /**
   * The identities nearest a face, best first: at least `k` of them when there are. An identity
   * with many faces can fill the hits of `hitsFor(k)` and crowd the others out, so fewer than k
   * identities in a full set of hits asks again for four times as many.
   */
  private async rankedIdentities(collection: string, vector: Float32Array, k: number, exact: boolean): Promise<[string, number][]> {
    for (let limit = hitsFor(k); ; limit = Math.min(MAX_K, limit * 4)) {
      const hits = await this.identityHits(collection, vector, limit, exact);
      const ranked = rankIdentities(hits);
      if (ranked.length >= k || hits.length < limit || limit === MAX_K) return ranked;
    }
  }

  private async identityHits(collection: string, vector: Float32Array, k: number, exact: boolean): Promise<Hit[]> {
    try {
      return await this.index.search(collection, vector, { k, filter: { kind: 'identity' }, exact });
    } catch (err) {
      // Nothing enrolled or ingested yet: the index has no such collection, so nobody matches.
      if (err instanceof FaceIndexError && err.code === 'COLLECTION_NOT_FOUND') return [];
      throw err;
    }
  }

  private async enroll(data: SyncMatchJob, request: Op<'enroll'>): Promise<EnrollResult> {
    const { collection, key } = data;
    // Checked inside the serial order: a DELETE of the identity that ran before this sees no face of it after.
    if ((await this.redis.hexists(identitiesKey(this.prefix, collection), request.identityId)) !== 1) {
      throw new RequestError(404, 'IDENTITY_NOT_FOUND', `Identity ${request.identityId} does not exist`);
    }
    const vectors = data.faces.map((f) => decodeFloat32(f.embedding));
    await this.index.ensureCollection(collection, vectors[0].length);
    if (!this.stats.has(collection)) await this.stats.load(this.index, collection);
    const createdAt = new Date().toISOString();
    const faces: IndexedFace[] = data.faces.map((f, i) => ({
      id: faceId(collection, key, f.index),
      vector: vectors[i],
      payload: { photoKey: key, kind: 'identity', identityId: request.identityId, box: f.box, score: f.score, quality: f.quality, createdAt } satisfies FacePayload,
    }));
    // The same photo enrolled again replaces its faces: those it gives again keep their ids, and
    // those it no longer gives (enrolled with `all` before, the largest only now) go. The key is
    // the identity's own for this photo, so no other face has it. Counts move by the difference.
    const previous = (await this.index.scroll(collection, { filter: { photoKey: key }, limit: 10_000 })).items;
    const stale = previous.filter((h) => !faces.some((f) => f.id === h.id)).map((h) => h.id);
    if (stale.length > 0) await this.index.delete(collection, { ids: stale });
    await this.index.upsert(collection, faces);
    await this.stats.applyChanges(collection, previous.map((h) => h.payload), faces.map((f) => f.payload));
    return {
      identityId: request.identityId,
      faces: faces.map((f) => ({ faceId: f.id, box: f.payload.box!, score: f.payload.score!, quality: f.payload.quality! })),
    };
  }
}

/** Hits grouped by identity, each at its best similarity, most similar first. */
function rankIdentities(hits: Hit[]): [string, number][] {
  const best = new Map<string, number>();
  for (const h of hits) {
    const id = h.payload.identityId;
    if (typeof id === 'string' && h.score > (best.get(id) ?? -Infinity)) best.set(id, h.score);
  }
  return [...best].sort((a, b) => b[1] - a[1]);
}

function collectionNotFound(collection: string): RequestError {
  return new RequestError(404, 'COLLECTION_NOT_FOUND', `Collection "${collection}" does not exist`);
}
