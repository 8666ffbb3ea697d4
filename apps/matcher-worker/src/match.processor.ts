import { decodeFloat32, faceId, type MatchJob, type ResultFace } from '@facepipe/contracts';
import { type FaceIndex, FaceIndexError, type FacePayload, type IndexedFace } from '@facepipe/face-index';
import { isLastAttempt, settlePhoto, type JobStore, type Queues } from '@facepipe/pipeline';
import type { Job } from 'bullmq';
import type { CollectionRegistry } from '@facepipe/pipeline';
import { newPersonId } from './clustering';
import { type CollectionStats, isUnknownPerson } from './collection-stats';
import { sameFaces } from './same-faces';
import type { Serial } from './serial';

/** The default model's embedding length (fr_feature), for match jobs of embedders that do not say. */
const DEFAULT_DIMENSIONS = 512;

/**
 * match: writes a photo's faces into the index and groups unknown faces into people. A face joins
 * the person of its nearest neighbour (from another photo) at or above the clustering threshold,
 * otherwise it starts a new person whose id derives from the face id and the job — so a retry
 * lands on the same ids. Re-submitting a photo replaces its faces: face ids come from (collection, key, index),
 * and each new face keeps the person and the decisions of the face it was before (same-faces.ts).
 */
export class MatchProcessor {
  constructor(
    private readonly index: FaceIndex,
    private readonly stats: CollectionStats,
    private readonly queues: Queues,
    private readonly jobs: JobStore,
    private readonly clusterThreshold: number,
    /** Shared with every other index writer of this process. */
    private readonly serial: Serial,
    /** When given, photos of a collection deleted while they were in flight (even if a namesake exists now) are not indexed. */
    private readonly registry?: CollectionRegistry,
  ) {}

  process(job: Job<MatchJob>): Promise<{ faces: number } | { failed: string }> {
    return this.serial.run(() => this.match(job));
  }

  private async match(job: Job<MatchJob>): Promise<{ faces: number } | { failed: string }> {
    const { jobId, key } = job.data;
    let result: ResultFace[];
    try {
      if (this.registry && !(await this.registry.recordOfPhoto(job.data.collection, jobId, this.jobs))) return await this.refuseDeleted(job.data);
      result = await this.indexPhoto(job.data);
    } catch (err) {
      // Vectors of another length than the collection's never fit: no retry can help.
      if (isDimensionMismatch(err)) {
        await settlePhoto(this.queues, this.jobs, jobId, { key, status: 'failed', faces: [], error: { code: 'DIMENSION_MISMATCH', message: dimensionMismatchMessage(err) } });
        return { failed: 'DIMENSION_MISMATCH' };
      }
      if (!isLastAttempt(job)) throw err;
      const message = err instanceof Error ? err.message : String(err);
      await settlePhoto(this.queues, this.jobs, jobId, { key, status: 'failed', faces: [], error: { code: 'MATCHING_FAILED', message } });
      return { failed: 'MATCHING_FAILED' };
    }
    await settlePhoto(this.queues, this.jobs, jobId, { key, status: 'done', faces: result });
    return { faces: result.length };
  }

  /** The collection was deleted while this photo was in flight: it must not come back through it. */
  private async refuseDeleted(data: MatchJob): Promise<{ failed: string }> {
    const error = { code: 'COLLECTION_NOT_FOUND', message: `Collection "${data.collection}" was deleted` };
    // Its job record is usually erased with the collection; then there is nothing to settle.
    await settlePhoto(this.queues, this.jobs, data.jobId, { key: data.key, status: 'failed', faces: [], error }).catch(() => undefined);
    return { failed: error.code };
  }

  private async indexPhoto(data: MatchJob): Promise<ResultFace[]> {
    const { collection, key } = data;
    const vectors = data.faces.map((f) => decodeFloat32(f.embedding));
    // A photo without faces still creates the collection (its photo counts), with the embedder's
    // dimension: the default model's 512 when an older embedder does not say.
    await this.index.ensureCollection(collection, vectors[0]?.length ?? data.dim ?? DEFAULT_DIMENSIONS);
    if (!this.stats.has(collection)) await this.stats.load(this.index, collection);

    const old = (await this.index.scroll(collection, { filter: { photoKey: key }, limit: 10_000 })).items;
    // What was decided about a face stays with that face, wherever the detector lists it now.
    const earlier =
      old.length > 0 && vectors.length > 0
        ? sameFaces(vectors, await this.index.getVectors(collection, old.map((h) => h.id)), { current: data.faces.map((f) => f.box), earlier: old.map((h) => h.payload.box) })
        : [];
    const faces: IndexedFace[] = [];
    for (const [i, f] of data.faces.entries()) {
      const id = faceId(collection, key, f.index);
      const was = earlier[i] ?? -1;
      const previous = was >= 0 ? old[was].payload : undefined;
      const decided = manualDecision(previous);
      const payload: FacePayload = {
        photoKey: key,
        jobId: data.jobId,
        kind: 'person',
        box: f.box,
        score: f.score,
        quality: f.quality,
        createdAt: new Date().toISOString(),
        ...decided,
      };
      if (decided.kind !== 'identity') payload.personId = previous?.personId ?? (await this.personFor(collection, key, vectors[i], id, data.jobId));
      faces.push({ id, vector: vectors[i], payload });
    }
    // Faces of an earlier version of this photo that the new one no longer has.
    const stale = old.map((h) => h.id).filter((id) => !faces.some((f) => f.id === id));
    if (stale.length > 0) await this.index.delete(collection, { ids: stale });
    if (faces.length > 0) await this.index.upsert(collection, faces);
    await this.stats.replacePhoto(
      collection,
      key,
      old.filter((h) => isUnknownPerson(h.payload)).map((h) => h.payload.personId!),
      faces.filter((f) => isUnknownPerson(f.payload)).map((f) => f.payload.personId!),
      faces.length,
    );
    return faces.map((f) => ({ faceId: f.id, box: f.payload.box!, score: f.payload.score!, quality: f.payload.quality!, personId: f.payload.personId ?? f.payload.identityId ?? '' }));
  }

  private async personFor(collection: string, photoKey: string, vector: Float32Array, id: string, jobId: string): Promise<string> {
    // Only unknown faces: enrolled identity faces have no person and would crowd out the neighbours.
    const hits = await this.index.search(collection, vector, { k: 5, filter: { kind: 'person' } });
    const best = hits.find((h) => h.payload.photoKey !== photoKey && h.payload.personId);
    if (best && best.score >= this.clusterThreshold) return best.payload.personId!;
    // A person of its own, from the face id and the job: a retry gives the same id, but a face id
    // is a place in the detector's list, and the face there before (another picture under the
    // same key) may have started a person that still has other faces.
    return newPersonId(id, `ingest\u0000${jobId}`);
  }
}

/**
 * What a human decided about a face (named it into an identity; merged or moved it: pinned)
 * survives a re-submission of its photo, carried from the earlier version of the same face.
 */
function manualDecision(old: FacePayload | undefined): Partial<FacePayload> {
  if (!old) return {};
  const keep: Partial<FacePayload> = {};
  if (old.kind === 'identity') {
    keep.kind = 'identity';
    if (old.identityId !== undefined) keep.identityId = old.identityId;
    if (old.personId !== undefined) keep.personId = old.personId; // usually none: a named face leaves the people list
  }
  for (const field of ['pinned', 'namedFrom'] as const) if (old[field] !== undefined) keep[field] = old[field];
  return keep;
}

/** The collection holds vectors of another length than the embedder gives. */
export function isDimensionMismatch(err: unknown): err is FaceIndexError {
  return err instanceof FaceIndexError && err.code === 'DIMENSION_MISMATCH';
}

/** What to do about it, after what the index said. */
export function dimensionMismatchMessage(err: FaceIndexError): string {
  return `${err.message}: the embedder runs another model than the one that filled this collection (FACEPIPE_MODEL_MANIFEST); use a new collection for it`;
}
