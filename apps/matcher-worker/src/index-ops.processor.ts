import {
  type FacePage,
  type FaceView,
  type IndexJob,
  type IndexOp,
  type IndexOpResults,
  type PeoplePage,
  type ReclusterStatus,
  enrollPhotoKey,
  identitiesKey,
  indexJobSchema,
  reclusterStatusKey,
} from '@facepipe/contracts';
import { type FaceFilter, type FaceIndex, FaceIndexError, type FacePayload, type Hit } from '@facepipe/face-index';
import { RequestError, errorReply, sendReply, type Logger } from '@facepipe/pipeline';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { createHash } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { type ClusterPoint, type Neighbour, assignPersons, dbscan, symmetrise } from './clustering';
import type { CollectionRegistry } from '@facepipe/pipeline';
import type { CollectionStats } from './collection-stats';
import type { Serial } from './serial';

type Op<T extends IndexOp['type']> = Extract<IndexOp, { type: T }>;

/** Faces read per index call, and faces patched per serial step of a recluster. */
const PAGE = 1000;
const APPLY_CHUNK = 500;
/** Neighbours asked per face when re-clustering: enough to tell core points for any sane minFaces. */
const MIN_NEIGHBOURS = 32;
/** How long a recluster status stays readable after it was last written. */
export const RECLUSTER_STATUS_TTL_S = 7 * 86_400;

/**
 * index: the operations on the face index that the gateway asks for (people, naming, merges,
 * moves, erasure, reclustering). Every write runs through the process's one Serial, shared with
 * the match processor, so it sees the index exactly as the previous writer left it; reads do not
 * wait for it. Each answer goes back through the reply channel; a recluster writes its progress to
 * its status record instead (it may run far longer than a request).
 */
export class IndexOpsProcessor {
  constructor(
    private readonly index: FaceIndex,
    private readonly stats: CollectionStats,
    private readonly registry: CollectionRegistry,
    private readonly serial: Serial,
    private readonly redis: Redis,
    private readonly prefix: string,
    /** FACEPIPE_CLUSTER_THRESHOLD: the default eps of a recluster. */
    private readonly clusterThreshold: number,
    private readonly logger?: Logger,
  ) {}

  async process(job: Job<IndexJob>): Promise<unknown> {
    const parsed = indexJobSchema.safeParse(job.data);
    if (!parsed.success) {
      const requestId = (job.data as { requestId?: unknown } | undefined)?.requestId;
      const error = new RequestError(400, 'INVALID_OPERATION', parsed.error.issues[0]?.message ?? 'invalid index operation');
      if (typeof requestId === 'string') await sendReply(this.redis, this.prefix, requestId, errorReply(error));
      return { failed: 'INVALID_OPERATION' };
    }
    const { requestId, collection, op } = parsed.data;
    if (op.type === 'recluster') return this.recluster(requestId, collection, op);
    try {
      const result = await this.run(collection, op);
      await sendReply(this.redis, this.prefix, requestId, { ok: true, result });
      return { op: op.type };
    } catch (err) {
      await sendReply(this.redis, this.prefix, requestId, errorReply(toRequestError(err)));
      return { op: op.type, failed: err instanceof Error ? err.message : String(err) };
    }
  }

  /** One synchronous operation. */
  private async run(collection: string, op: Exclude<IndexOp, { type: 'recluster' }>): Promise<IndexOpResults[typeof op.type]> {
    if (op.type === 'dropCollection') return this.serial.run(() => this.dropCollection(collection));
    if (!(await this.registry.exists(collection))) throw new RequestError(404, 'COLLECTION_NOT_FOUND', `Collection "${collection}" does not exist`);
    switch (op.type) {
      case 'listPeople':
        return this.listPeople(collection, op);
      case 'personFaces':
        return this.personFaces(collection, op);
      case 'listIdentityFaces':
        return this.facePage(collection, { identityId: op.identityId }, op.cursor, op.limit);
      case 'hasFace':
        return this.hasFace(collection, op.faceId);
      case 'namePerson':
        return this.write(collection, () => this.namePerson(collection, op));
      case 'mergePeople':
        return this.write(collection, () => this.mergePeople(collection, op));
      case 'moveFace':
        return this.write(collection, () => this.moveFace(collection, op));
      case 'deleteFaces':
        return this.write(collection, () => this.deleteFaces(collection, op));
      case 'setPayload':
        return this.write(collection, () => this.setPayload(collection, op));
    }
  }

  /** A write, in the serial order, on a collection whose counts are loaded. */
  private write<T>(collection: string, task: () => Promise<T>): Promise<T> {
    return this.serial.run(async () => {
      await this.loadStats(collection);
      return task();
    });
  }

  // ── reads ────────────────────────────────────────────────────────────────────────────────────

  private async listPeople(collection: string, op: Op<'listPeople'>): Promise<PeoplePage> {
    await this.loadStats(collection);
    // Most faces first, then by id: a stable order the cursor (the last entry) can resume from.
    const all = [...this.stats.peopleOf(collection)].sort((a, b) => b[1] - a[1] || cmp(a[0], b[0]));
    let start = 0;
    if (op.cursor !== undefined) {
      const after = decodeCursor(op.cursor);
      start = all.findIndex(([id, n]) => n < after.faces || (n === after.faces && id > after.id));
      if (start < 0) start = all.length;
    }
    const page = all.slice(start, start + op.limit);
    const items = [];
    for (const [personId, faces] of page) {
      const members = await this.scrollAll(collection, { personId, kind: 'person' });
      const best = members.reduce<Hit | undefined>((b, h) => (!b || rank(h.payload) > rank(b.payload) ? h : b), undefined);
      if (best) items.push({ personId, faces, representativeFaceId: best.id });
    }
    const last = page[page.length - 1];
    return start + op.limit < all.length && last ? { items, next: encodeCursor(last[1], last[0]) } : { items };
  }

  private async personFaces(collection: string, op: Op<'personFaces'>): Promise<FacePage> {
    const page = await this.facePage(collection, { personId: op.personId, kind: 'person' }, op.cursor, op.limit);
    if (page.items.length === 0 && op.cursor === undefined) throw personNotFound(op.personId);
    return page;
  }

  private async hasFace(collection: string, faceId: string): Promise<{ exists: boolean }> {
    try {
      const [hit] = await this.index.get(collection, [faceId]);
      return { exists: hit !== null };
    } catch (err) {
      if (err instanceof FaceIndexError && err.code === 'COLLECTION_NOT_FOUND') return { exists: false };
      throw err;
    }
  }

  private async facePage(collection: string, filter: FaceFilter, cursor: string | undefined, limit: number): Promise<FacePage> {
    try {
      const page = await this.index.scroll(collection, { filter, cursor, limit });
      return { items: page.items.map(toView), ...(page.next ? { next: page.next } : {}) };
    } catch (err) {
      if (err instanceof FaceIndexError && err.code === 'COLLECTION_NOT_FOUND') return { items: [] };
      if (err instanceof FaceIndexError && err.code === 'INVALID_ARGUMENT') throw new RequestError(400, 'INVALID_CURSOR', err.message);
      throw err;
    }
  }

  // ── writes (inside the serial order) ─────────────────────────────────────────────────────────

  private async namePerson(collection: string, op: Op<'namePerson'>): Promise<IndexOpResults['namePerson']> {
    // Checked here, in the serial order: an identity deleted before this runs has had its faces
    // handled by then (or will have, after this), so naming into it would leave faces of nobody.
    if ((await this.redis.hexists(identitiesKey(this.prefix, collection), op.identityId)) !== 1) {
      throw new RequestError(404, 'IDENTITY_NOT_FOUND', `Identity ${op.identityId} does not exist`);
    }
    const faces = await this.scrollAll(collection, { personId: op.personId, kind: 'person' });
    if (faces.length === 0) throw personNotFound(op.personId);
    // Identity faces are found by 1:N search; they leave the people list (no person id).
    await this.patch(collection, faces, { identityId: op.identityId, kind: 'identity', personId: undefined, pinned: true, namedFrom: op.personId });
    return { identityId: op.identityId, faces: faces.length };
  }

  private async mergePeople(collection: string, op: Op<'mergePeople'>): Promise<IndexOpResults['mergePeople']> {
    const ids = [...new Set(op.into ? [...op.ids, op.into] : op.ids)];
    const people = this.stats.peopleOf(collection);
    const missing = ids.find((id) => !people.has(id));
    if (missing) throw personNotFound(missing);
    const into = op.into ?? [...ids].sort((a, b) => people.get(b)! - people.get(a)! || cmp(a, b))[0];
    const faces: Hit[] = [];
    for (const id of ids) faces.push(...(await this.scrollAll(collection, { personId: id, kind: 'person' })));
    // Pinned: a recluster keeps what a human put together.
    await this.patch(collection, faces, { personId: into, pinned: true });
    return { personId: into, faces: faces.length };
  }

  private async moveFace(collection: string, op: Op<'moveFace'>): Promise<IndexOpResults['moveFace']> {
    if ((op.personId === undefined) === (op.newPerson === undefined)) {
      throw new RequestError(400, 'VALIDATION_FAILED', 'give either personId or newPerson: true');
    }
    const [face] = await this.getFaces(collection, [op.faceId]);
    if (!face) throw new RequestError(404, 'FACE_NOT_FOUND', `Face ${op.faceId} does not exist`);
    if (face.payload.kind === 'identity') throw new RequestError(409, 'FACE_IS_IDENTITY', `Face ${op.faceId} belongs to an identity, not to an unknown person`);
    let target: string;
    if (op.personId !== undefined) {
      if (op.personId !== face.payload.personId && !this.stats.peopleOf(collection).has(op.personId)) throw personNotFound(op.personId);
      target = op.personId;
      // Moving a face into a person merges it in, and like a merge it pins the person's faces too:
      // a recluster keeps them with the face a human put there, and no cluster apart from them
      // keeps their id (clustering.ts). A face "moved" to the person it is in only pins itself.
      if (target !== face.payload.personId) {
        const into = (await this.scrollAll(collection, { personId: target, kind: 'person' })).filter((h) => !h.payload.pinned);
        await this.patch(collection, into, { pinned: true });
      }
    } else {
      target = 'person_' + createHash('sha256').update(`moved\u0000${op.faceId}`).digest('hex').slice(0, 24);
    }
    await this.patch(collection, [face], { personId: target, pinned: true });
    return { faceId: op.faceId, personId: target };
  }

  private async deleteFaces(collection: string, op: Op<'deleteFaces'>): Promise<IndexOpResults['deleteFaces']> {
    const faces = await this.scrollAll(collection, op.filter);
    const faceIds = faces.map((h) => h.id);
    for (let i = 0; i < faceIds.length; i += PAGE) await this.index.delete(collection, { ids: faceIds.slice(i, i + PAGE) });
    await this.stats.applyChanges(collection, faces.map((h) => h.payload), []);
    const photoKeys = new Set(faces.map((h) => h.payload.photoKey));
    // A photo erase also forgets a photo that had no faces (it counts as a photo, but has no entry).
    const erasesPhoto = op.filter.photoKey !== undefined && Object.keys(op.filter).length === 1;
    if (erasesPhoto && (await this.stats.removePhoto(collection, op.filter.photoKey!))) photoKeys.add(op.filter.photoKey!);
    // An identity's erase takes its enrolled photos (its own keys, which no other route names) with
    // it, also those whose faces an earlier, interrupted erase took; the photos of ingest its faces
    // came from stay photos of the collection.
    if (op.filter.identityId !== undefined) {
      const enrolled = enrollPhotoKey(op.filter.identityId, '');
      for (const key of [...this.stats.photoKeys(collection)].filter((k) => k.startsWith(enrolled))) {
        await this.stats.removePhoto(collection, key);
        photoKeys.add(key);
      }
    }
    const jobIds = new Set(faces.map((h) => h.payload.jobId).filter((j): j is string => typeof j === 'string'));
    return { deleted: faceIds.length, faceIds, photoKeys: [...photoKeys], jobIds: [...jobIds] };
  }

  private async setPayload(collection: string, op: Op<'setPayload'>): Promise<IndexOpResults['setPayload']> {
    if ((op.ids === undefined) === (op.filter === undefined)) throw new RequestError(400, 'VALIDATION_FAILED', 'give either ids or filter');
    if ('photoKey' in op.patch) throw new RequestError(400, 'VALIDATION_FAILED', 'photoKey cannot be patched');
    const patch: Partial<FacePayload> = {};
    for (const [k, v] of Object.entries(op.patch)) patch[k] = v === null ? undefined : v; // null removes the field
    const faces = op.ids ? (await this.getFaces(collection, op.ids)).filter((h): h is Hit => h !== null) : await this.scrollAll(collection, op.filter!);
    await this.patch(collection, faces, patch);
    return { updated: faces.length };
  }

  private async dropCollection(collection: string): Promise<IndexOpResults['dropCollection']> {
    let faces = 0;
    try {
      faces = await this.index.count(collection);
      await this.index.dropCollection(collection);
    } catch (err) {
      if (!(err instanceof FaceIndexError && err.code === 'COLLECTION_NOT_FOUND')) throw err;
    }
    await this.stats.forget(collection);
    return { faces };
  }

  // ── recluster ────────────────────────────────────────────────────────────────────────────────

  /**
   * Full re-clustering of the collection's unknown faces (DBSCAN, see clustering.ts). The reading
   * and the clustering run beside ingest; only the changes go through the serial order, a chunk at a
   * time, and each face is changed only if nobody touched it meanwhile (a merge, a move, a name).
   */
  private async recluster(jobId: string, collection: string, op: Op<'recluster'>): Promise<unknown> {
    const eps = op.eps ?? this.clusterThreshold;
    const running: ReclusterStatus = { ...(await this.readStatus(jobId, collection, op.minFaces, eps)), state: 'running', startedAt: new Date().toISOString() };
    await this.writeStatus(running);
    try {
      if (!(await this.registry.exists(collection))) throw new RequestError(404, 'COLLECTION_NOT_FOUND', `Collection "${collection}" does not exist`);
      await this.loadStats(collection);
      const { faces, changed } = await this.reclusterFaces(collection, op.minFaces, eps);
      const people = this.stats.peopleOf(collection).size;
      await this.writeStatus({ ...running, state: 'completed', finishedAt: new Date().toISOString(), faces, changed, people });
      this.logger?.info('recluster completed', { collection, jobId, faces, changed, people });
      return { faces, changed };
    } catch (err) {
      const e = toRequestError(err);
      const code = e instanceof RequestError ? e.code : 'INTERNAL_ERROR';
      await this.writeStatus({ ...running, state: 'failed', finishedAt: new Date().toISOString(), error: { code, message: e instanceof Error ? e.message : String(e) } });
      this.logger?.warn('recluster failed', { collection, jobId, error: err });
      return { failed: code };
    }
  }

  private async reclusterFaces(collection: string, minFaces: number, eps: number): Promise<{ faces: number; changed: number }> {
    const hits = await this.scrollAll(collection, { kind: 'person' });
    hits.sort((a, b) => cmp(a.id, b.id)); // a fixed order: the same index gives the same clusters
    const points: ClusterPoint[] = hits.map((h) => ({ id: h.id, personId: h.payload.personId, pinned: h.payload.pinned === true }));
    const at = new Map(points.map((p, i) => [p.id, i]));
    const k = Math.max(MIN_NEIGHBOURS, minFaces * 2);
    const lists: Neighbour[][] = points.map(() => []);
    for (let start = 0; start < points.length; start += PAGE) {
      const ids = points.slice(start, start + PAGE).map((p) => p.id);
      const vectors = await this.index.getVectors(collection, ids);
      for (const [n, vector] of vectors.entries()) {
        if (!vector) continue; // deleted meanwhile
        const i = start + n;
        const near = await this.index.search(collection, vector, { k, filter: { kind: 'person' } });
        for (const h of near) {
          const j = at.get(h.id);
          if (j !== undefined && j !== i && h.score >= eps) lists[i].push({ j, s: h.score });
        }
        // Let BullMQ renew its lock and the ingest worker take its turns.
        if (n % 100 === 99) await yieldToLoop();
      }
    }
    const persons = assignPersons(points, dbscan(symmetrise(lists), minFaces));
    const changes = points.map((p, i) => ({ p, to: persons[i] })).filter(({ p, to }) => !p.pinned && to && to !== p.personId);
    let changed = 0;
    for (let start = 0; start < changes.length; start += APPLY_CHUNK) {
      const chunk = changes.slice(start, start + APPLY_CHUNK);
      changed += await this.serial.run(async () => {
        if (!(await this.registry.exists(collection))) throw new RequestError(404, 'COLLECTION_NOT_FOUND', `Collection "${collection}" was deleted`);
        const now = await this.getFaces(collection, chunk.map((c) => c.p.id));
        const byTarget = new Map<string, Hit[]>();
        chunk.forEach(({ p, to }, n) => {
          const h = now[n];
          // Untouched since it was read: still an unpinned unknown face of the same person.
          if (!h || h.payload.kind !== 'person' || h.payload.pinned === true || h.payload.personId !== p.personId) return;
          let list = byTarget.get(to);
          if (!list) byTarget.set(to, (list = []));
          list.push(h);
        });
        let n = 0;
        for (const [to, faces] of byTarget) {
          await this.patch(collection, faces, { personId: to });
          n += faces.length;
        }
        return n;
      });
    }
    return { faces: points.length, changed };
  }

  private async readStatus(jobId: string, collection: string, minFaces: number, eps: number): Promise<ReclusterStatus> {
    const raw = await this.redis.get(reclusterStatusKey(this.prefix, jobId));
    if (raw) return JSON.parse(raw) as ReclusterStatus;
    return { jobId, collection, state: 'queued', minFaces, eps, createdAt: new Date().toISOString() };
  }

  private async writeStatus(status: ReclusterStatus): Promise<void> {
    await this.redis.set(reclusterStatusKey(this.prefix, status.jobId), JSON.stringify(status), 'EX', RECLUSTER_STATUS_TTL_S);
  }

  // ── helpers ──────────────────────────────────────────────────────────────────────────────────

  /** Applies a payload patch to faces and shifts the counts by what changed. */
  private async patch(collection: string, faces: Hit[], patch: Partial<FacePayload>): Promise<void> {
    for (let i = 0; i < faces.length; i += PAGE) {
      const chunk = faces.slice(i, i + PAGE);
      await this.index.setPayload(collection, chunk.map((h) => h.id), patch);
      const after = chunk.map((h) => applyPatch(h.payload, patch));
      await this.stats.applyChanges(collection, chunk.map((h) => h.payload), after);
    }
  }

  /** Every face matching the filter (none when the collection has no index yet). */
  private async scrollAll(collection: string, filter: FaceFilter): Promise<Hit[]> {
    const out: Hit[] = [];
    let cursor: string | undefined;
    try {
      do {
        const page = await this.index.scroll(collection, { filter, cursor, limit: PAGE });
        out.push(...page.items);
        cursor = page.next;
      } while (cursor);
    } catch (err) {
      if (err instanceof FaceIndexError && err.code === 'COLLECTION_NOT_FOUND') return [];
      throw err;
    }
    return out;
  }

  private async getFaces(collection: string, ids: string[]): Promise<(Hit | null)[]> {
    const out: (Hit | null)[] = [];
    try {
      for (let i = 0; i < ids.length; i += PAGE) out.push(...(await this.index.get(collection, ids.slice(i, i + PAGE))));
    } catch (err) {
      if (err instanceof FaceIndexError && err.code === 'COLLECTION_NOT_FOUND') return ids.map(() => null);
      if (err instanceof FaceIndexError && err.code === 'INVALID_ARGUMENT') throw new RequestError(400, 'INVALID_FACE_ID', err.message);
      throw err;
    }
    return out;
  }

  private async loadStats(collection: string): Promise<void> {
    if (this.stats.has(collection)) return;
    try {
      await this.stats.load(this.index, collection);
    } catch (err) {
      if (!(err instanceof FaceIndexError && err.code === 'COLLECTION_NOT_FOUND')) throw err;
    }
  }
}

function toView(h: Hit): FaceView {
  const p = h.payload;
  return {
    faceId: h.id,
    photoKey: p.photoKey,
    ...(p.box ? { box: p.box } : {}),
    ...(typeof p.score === 'number' ? { score: p.score } : {}),
    ...(typeof p.quality === 'number' ? { quality: p.quality } : {}),
    ...(p.personId ? { personId: p.personId } : {}),
    ...(p.identityId ? { identityId: p.identityId } : {}),
    pinned: p.pinned === true,
  };
}

function applyPatch(payload: FacePayload, patch: Partial<FacePayload>): FacePayload {
  const out: FacePayload = { ...payload };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** How good a face is to show its person: a confident detection of a sharp, frontal face. */
function rank(p: FacePayload): number {
  return (typeof p.score === 'number' ? p.score : 0) * (typeof p.quality === 'number' ? p.quality : 0);
}

function personNotFound(personId: string): RequestError {
  return new RequestError(404, 'PERSON_NOT_FOUND', `Person ${personId} does not exist`);
}

/** Index errors of the caller's input keep a 4xx; anything else is an internal error. */
function toRequestError(err: unknown): unknown {
  if (err instanceof FaceIndexError && err.code === 'INVALID_ARGUMENT') return new RequestError(400, 'VALIDATION_FAILED', err.message);
  return err;
}

function encodeCursor(faces: number, id: string): string {
  return Buffer.from(JSON.stringify([faces, id])).toString('base64url');
}

function decodeCursor(cursor: string): { faces: number; id: string } {
  try {
    const [faces, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as [unknown, unknown];
    if (typeof faces === 'number' && typeof id === 'string') return { faces, id };
  } catch {
    // fall through
  }
  throw new RequestError(400, 'INVALID_CURSOR', 'cursor is not one this API gave');
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
