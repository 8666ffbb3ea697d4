import { decodeFloat32, faceId, type MatchJob, type ResultFace } from '@facepipe/contracts';
import type { FaceIndex, IndexedFace } from '@facepipe/face-index';
import { isLastAttempt, settlePhoto, type JobStore, type Queues } from '@facepipe/pipeline';
import type { Job } from 'bullmq';
import type { CollectionStats } from './collection-stats';
import type { Serial } from './serial';

/**
 * match: writes a photo's faces into the index and groups unknown faces into people. A face joins
 * the person of its nearest neighbour (from another photo) at or above the clustering threshold,
 * otherwise it starts a new person whose id derives from the face id — so a retry lands on the
 * same ids. Re-submitting a photo replaces its faces: face ids come from (collection, key, index).
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
  ) {}

  process(job: Job<MatchJob>): Promise<{ faces: number } | { failed: string }> {
    return this.serial.run(() => this.match(job));
  }

  private async match(job: Job<MatchJob>): Promise<{ faces: number } | { failed: string }> {
    const { jobId, key } = job.data;
    let result: ResultFace[];
    try {
      result = await this.indexPhoto(job.data);
    } catch (err) {
      if (!isLastAttempt(job)) throw err;
      const message = err instanceof Error ? err.message : String(err);
      await settlePhoto(this.queues, this.jobs, jobId, { key, status: 'failed', faces: [], error: { code: 'MATCHING_FAILED', message } });
      return { failed: 'MATCHING_FAILED' };
    }
    await settlePhoto(this.queues, this.jobs, jobId, { key, status: 'done', faces: result });
    return { faces: result.length };
  }

  private async indexPhoto(data: MatchJob): Promise<ResultFace[]> {
    const { collection, key } = data;
    const vectors = data.faces.map((f) => decodeFloat32(f.embedding));
    if (vectors.length > 0) await this.index.ensureCollection(collection, vectors[0].length);
    else await this.index.ensureCollection(collection, 512);
    if (!this.stats.has(collection)) await this.stats.load(this.index, collection);

    const old = (await this.index.scroll(collection, { filter: { photoKey: key }, limit: 10_000 })).items;
    const oldPerson = new Map(old.map((h) => [h.id, h.payload.personId]));
    const faces: IndexedFace[] = [];
    for (const [i, f] of data.faces.entries()) {
      const id = faceId(collection, key, f.index);
      faces.push({
        id,
        vector: vectors[i],
        payload: {
          photoKey: key,
          jobId: data.jobId,
          kind: 'person',
          personId: oldPerson.get(id) ?? (await this.personFor(collection, key, vectors[i], id)),
          box: f.box,
          score: f.score,
          quality: f.quality,
          createdAt: new Date().toISOString(),
        },
      });
    }
    // Faces of an earlier version of this photo that the new one no longer has.
    const stale = old.map((h) => h.id).filter((id) => !faces.some((f) => f.id === id));
    if (stale.length > 0) await this.index.delete(collection, { ids: stale });
    if (faces.length > 0) await this.index.upsert(collection, faces);
    await this.stats.replacePhoto(
      collection,
      key,
      old.map((h) => h.payload.personId).filter((p): p is string => !!p),
      faces.map((f) => f.payload.personId!),
    );
    return faces.map((f) => ({ faceId: f.id, box: f.payload.box!, score: f.payload.score!, quality: f.payload.quality!, personId: f.payload.personId! }));
  }

  private async personFor(collection: string, photoKey: string, vector: Float32Array, id: string): Promise<string> {
    const hits = await this.index.search(collection, vector, { k: 5 });
    const best = hits.find((h) => h.payload.photoKey !== photoKey && h.payload.personId);
    return best && best.score >= this.clusterThreshold ? best.payload.personId! : `person_${id.slice(id.length - 24)}`;
  }
}
