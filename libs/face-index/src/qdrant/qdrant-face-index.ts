// The client is an ES module package (with a CommonJS build for `require`); TypeScript's node16
// resolution types it as ESM, hence `resolution-mode` here and the dynamic import in open().
import type { QdrantClient, Schemas } from '@qdrant/js-client-rest' with { 'resolution-mode': 'import' };
import { setTimeout as sleep } from 'node:timers/promises';
import { FaceIndexError } from '../errors';
import type { DeleteSelector, FaceFilter, FaceIndex, FacePayload, Hit, IndexedFace, ScrollOptions, ScrollPage, SearchOptions } from '../face-index';
import {
  FILTER_FIELDS, checkCollectionName, checkDimensions, checkFaceId, checkK, checkPayload, checkScrollLimit, checkVector, filterTerms,
} from '../validation';
import { isTransient, retryDelayMs, toFaceIndexError } from './qdrant-errors';
import { pointIdOf } from './qdrant-ids';
import {
  checkNoReservedKey, chunks, parseCursor, qdrantCollectionName, splitPatch, toCursor, toHit, toPoint, toQdrantFilter, vectorOf, vectorSizeOf,
  type QdrantFilter,
} from './qdrant-mapping';
import { clientParams, resolveQdrantOptions, type QdrantFaceIndexOptions, type ResolvedQdrantOptions } from './qdrant-options';

/**
 * The face index on a Qdrant server: the scale-out backend (several matchers, replicated storage).
 *
 * Layout: ONE QDRANT COLLECTION PER FACEPIPE COLLECTION, named `<prefix>_<name>`, rather than one
 * shared collection partitioned by a tenant payload index (`is_tenant: true`). Why:
 * - Dimensions are per collection in the FaceIndex contract, and a Qdrant collection has one
 *   vector size. A shared layout needs a collection per dimension plus a registry of which facepipe
 *   collection exists with which dimension: a second source of truth that a crash between two
 *   writes can leave disagreeing with the first.
 * - dropCollection must erase everything. Here that is one atomic DELETE that frees the storage at
 *   once; shared, it is a delete-by-filter over every point of the tenant (O(n), not atomic against
 *   a concurrent ensureCollection/upsert, space reclaimed only by later vacuuming).
 * - Existence is Qdrant's own: a missing collection is a 404 on the very request that needed it,
 *   which maps to COLLECTION_NOT_FOUND with no extra look-up.
 * - facepipe collections are few and large (an operator creates them through the API: one per
 *   product, event or customer), which is the case Qdrant's docs give for separate collections;
 *   payload partitioning pays off for thousands of small tenants.
 * The cost: each collection carries its own segments, WAL and optimizer, so hundreds of collections
 * are fine and many thousands are not (Qdrant Cloud caps a cluster at 1000). If facepipe ever needs
 * that many, the FaceIndex interface lets a shared per-dimension layout replace this one.
 *
 * Mapping:
 * - Cosine distance; Qdrant normalises stored and query vectors, so scores are cosine similarities.
 * - A keyword payload index on every filterable field (FILTER_FIELDS), created with the collection
 *   and added by ensureCollection to collections created before a field was added.
 * - Point ids are UUIDv5 of the face id (qdrant-ids.ts); the face id rides in the payload.
 * - Every write passes `wait: true` (resolves once applied, so the next read sees it: the
 *   interface's read-your-writes) and `ordering: 'medium'` (writes to one point go through one
 *   leader, so replicas cannot apply two matchers' concurrent updates in different orders).
 * - `exact` → `params.exact` (brute force); scroll pages in point-id order, which a re-upsert never
 *   changes, with Qdrant's next_page_offset as the cursor.
 * - Large upserts, reads and deletes go out in batches of `batchSize` points. A call that fails
 *   midway may have applied earlier batches; every write is idempotent, so retrying the call is safe.
 * - Requests time out after `timeoutMs` and transient failures (no answer, time-out, 429, 5xx) are
 *   retried with backoff; what remains surfaces as INDEX_UNAVAILABLE.
 */
export class QdrantFaceIndex implements FaceIndex {
  /** Dimensions by facepipe collection: a cache, refreshed on a mismatch and dropped on a 404. */
  private readonly dims = new Map<string, number>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly opts: ResolvedQdrantOptions,
    private readonly client: QdrantClient,
  ) {}

  /**
   * Connects and lists the collections once, so that a wrong URL or API key stops start-up instead
   * of failing the first job (INDEX_UNAVAILABLE; INVALID_ARGUMENT for a malformed option).
   */
  static async open(options: QdrantFaceIndexOptions): Promise<QdrantFaceIndex> {
    const opts = resolveQdrantOptions(options);
    const { QdrantClient } = await import('@qdrant/js-client-rest');
    const index = new QdrantFaceIndex(opts, new QdrantClient(clientParams(opts)));
    await index.request(null, 'connect', () => index.client.getCollections());
    return index;
  }

  /** The Qdrant collection that holds `name` (for operators and tests). */
  qdrantCollection(name: string): string {
    const q = qdrantCollectionName(this.opts.collectionPrefix, name);
    if (q === null) throw new FaceIndexError('INVALID_ARGUMENT', `bad collection name ${JSON.stringify(name)}`);
    return q;
  }

  async ensureCollection(name: string, dimensions: number): Promise<void> {
    this.live();
    checkCollectionName(name);
    checkDimensions(dimensions);
    const q = this.qdrantCollection(name);
    await this.track(async () => {
      let info = await this.collectionInfo(name, q);
      if (info === null) {
        try {
          await this.request(name, 'create collection', () => this.client.createCollection(q, { vectors: { size: dimensions, distance: 'Cosine' } }));
        } catch (err) {
          // Another process may have created it first (or a retried create found its own): compare.
          if ((await this.collectionInfo(name, q)) === null) throw err;
        }
        info = await this.request(name, 'read collection', () => this.client.getCollection(q));
      }
      const existing = vectorSizeOf(info, name);
      if (existing !== dimensions) {
        throw new FaceIndexError('DIMENSION_MISMATCH', `collection ${name} exists with ${existing} dimensions, not ${dimensions}`);
      }
      this.dims.set(name, existing);
      for (const field of FILTER_FIELDS) {
        if (info.payload_schema?.[field]) continue;
        await this.request(name, `index payload field ${field}`, () =>
          this.client.createPayloadIndex(q, { field_name: field, field_schema: 'keyword', wait: true, ordering: 'medium' }),
        );
      }
    });
  }

  async dropCollection(name: string): Promise<void> {
    const q = this.existing(name);
    await this.track(async () => {
      // DELETE answers `false` rather than 404 for a missing collection, so ask first.
      await this.request(name, 'read collection', () => this.client.getCollection(q));
      this.dims.delete(name);
      await this.request(name, 'drop collection', () => this.client.deleteCollection(q));
    });
  }

  async upsert(collection: string, faces: IndexedFace[]): Promise<void> {
    const q = this.existing(collection);
    if (!Array.isArray(faces)) throw new FaceIndexError('INVALID_ARGUMENT', 'faces must be an array');
    // The last occurrence of an id wins, as if the faces had been upserted one after another.
    const last = new Map<string, IndexedFace>();
    for (const f of faces) {
      checkFaceId(f?.id);
      last.set(f.id, f);
    }
    const unique = [...last.values()];
    for (const f of unique) {
      checkPayload(f.payload, f.id);
      checkNoReservedKey(f.payload, `payload of face ${f.id}`);
    }
    await this.track(async () => {
      // Every face is checked before anything is sent: a bad face fails the whole call.
      await this.checkVectors(collection, q, unique.map((f) => [f.vector, `vector of face ${f.id}`]));
      for (const batch of chunks(unique, this.opts.batchSize)) {
        await this.request(collection, 'upsert', () => this.client.upsert(q, { wait: true, ordering: 'medium', points: batch.map(toPoint) }));
      }
    });
  }

  async search(collection: string, vector: Float32Array, opts: SearchOptions): Promise<Hit[]> {
    const q = this.existing(collection);
    checkK(opts?.k);
    const filter = toQdrantFilter(filterTerms(opts.filter));
    return this.track(async () => {
      await this.checkVectors(collection, q, [[vector, 'query vector']]);
      const res = await this.request(collection, 'search', () =>
        this.client.query(q, {
          query: Array.from(vector),
          limit: opts.k,
          ...(filter ? { filter } : {}),
          params: { exact: opts.exact === true, ...(this.opts.hnswEf !== undefined ? { hnsw_ef: this.opts.hnswEf } : {}) },
          with_payload: true,
          with_vector: false,
        }),
      );
      return res.points.map((p) => toHit(p, p.score));
    });
  }

  async get(collection: string, ids: string[]): Promise<(Hit | null)[]> {
    const found = await this.retrieve(collection, ids, false);
    return ids.map((id) => {
      const r = found.get(pointIdOf(id));
      const hit = r && toHit(r, 1);
      return hit && hit.id === id ? { id, score: 1, payload: structuredClone(hit.payload) } : null;
    });
  }

  async getVectors(collection: string, ids: string[]): Promise<(Float32Array | null)[]> {
    const found = await this.retrieve(collection, ids, true);
    return ids.map((id) => {
      const r = found.get(pointIdOf(id));
      return r && toHit(r, 1).id === id ? vectorOf(r) : null;
    });
  }

  async setPayload(collection: string, ids: string[], patch: Partial<FacePayload>): Promise<void> {
    const q = this.existing(collection);
    checkIds(ids);
    if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) throw new FaceIndexError('INVALID_ARGUMENT', 'patch must be an object');
    if ('photoKey' in patch && typeof patch.photoKey !== 'string') throw new FaceIndexError('INVALID_ARGUMENT', 'photoKey cannot be removed or made a non-string');
    checkNoReservedKey(patch, 'patch');
    const { set, unset } = splitPatch(patch);
    for (const key of unset) {
      // delete_payload takes JSON paths: a plain key is one path segment only when it has no '.', '[' or '"'.
      if (!/^[A-Za-z0-9_-]+$/.test(key)) throw new FaceIndexError('INVALID_ARGUMENT', `cannot remove payload key ${JSON.stringify(key)}: only [A-Za-z0-9_-] keys can be removed`);
    }
    await this.track(async () => {
      if (ids.length === 0 || (unset.length === 0 && Object.keys(set).length === 0)) {
        await this.dimensionsOf(collection, q);
        return;
      }
      // Selecting by a has_id filter rather than a point list skips missing ids instead of failing.
      for (const batch of chunks([...new Set(ids.map(pointIdOf))], this.opts.batchSize)) {
        const filter = toQdrantFilter([], batch)!;
        if (Object.keys(set).length > 0) {
          await this.request(collection, 'set payload', () => this.client.setPayload(q, { payload: set, filter, wait: true, ordering: 'medium' }));
        }
        if (unset.length > 0) {
          await this.request(collection, 'delete payload keys', () => this.client.deletePayload(q, { keys: unset, filter, wait: true, ordering: 'medium' }));
        }
      }
    });
  }

  async delete(collection: string, selector: DeleteSelector): Promise<number> {
    const q = this.existing(collection);
    if (selector === null || typeof selector !== 'object') throw new FaceIndexError('INVALID_ARGUMENT', 'selector must be an object');
    const terms = filterTerms(selector.filter);
    if (selector.ids !== undefined) checkIds(selector.ids);
    else if (terms.length === 0) {
      throw new FaceIndexError('INVALID_ARGUMENT', 'delete needs ids or a non-empty filter (refusing to delete everything)');
    }
    return this.track(async () => {
      if (selector.ids === undefined) return this.deleteMatching(collection, q, toQdrantFilter(terms)!);
      if (selector.ids.length === 0) {
        await this.dimensionsOf(collection, q);
        return 0;
      }
      let deleted = 0;
      for (const batch of chunks([...new Set(selector.ids.map(pointIdOf))], this.opts.batchSize)) {
        deleted += await this.deleteMatching(collection, q, toQdrantFilter(terms, batch)!);
      }
      return deleted;
    });
  }

  async count(collection: string, filter?: FaceFilter): Promise<number> {
    const q = this.existing(collection);
    const f = toQdrantFilter(filterTerms(filter));
    return this.track(async () => {
      const res = await this.request(collection, 'count', () => this.client.count(q, { ...(f ? { filter: f } : {}), exact: true }));
      return res.count;
    });
  }

  async scroll(collection: string, opts: ScrollOptions): Promise<ScrollPage> {
    const q = this.existing(collection);
    checkScrollLimit(opts?.limit);
    const filter = toQdrantFilter(filterTerms(opts.filter));
    const offset = parseCursor(opts.cursor);
    return this.track(async () => {
      const res = await this.request(collection, 'scroll', () =>
        this.client.scroll(q, {
          limit: opts.limit,
          ...(filter ? { filter } : {}),
          ...(offset ? { offset } : {}),
          with_payload: true,
          with_vector: false,
        }),
      );
      const next = toCursor(res.next_page_offset);
      return { items: res.points.map((p) => toHit(p, 1)), ...(next ? { next } : {}) };
    });
  }

  /** Waits for the calls in flight; later calls fail with INDEX_CLOSED. Nothing is buffered here. */
  close(): Promise<void> {
    this.closing ??= Promise.allSettled([...this.inFlight]).then(() => undefined);
    return this.closing;
  }

  // ── internals ──────────────────────────────────────────────────────────────────────────────

  private live(): void {
    if (this.closing) throw new FaceIndexError('INDEX_CLOSED', 'the index is closed');
  }

  /** The Qdrant name of an existing-or-not collection; an invalid name cannot exist. */
  private existing(name: string): string {
    this.live();
    const q = qdrantCollectionName(this.opts.collectionPrefix, name);
    if (q === null) throw new FaceIndexError('COLLECTION_NOT_FOUND', `no collection ${JSON.stringify(name)}`);
    return q;
  }

  /** The points of `ids` (deduplicated), keyed by their Qdrant point id. */
  private async retrieve(collection: string, ids: string[], withVector: boolean): Promise<Map<string, Schemas['Record']>> {
    const q = this.existing(collection);
    checkIds(ids);
    return this.track(async () => {
      const found = new Map<string, Schemas['Record']>();
      if (ids.length === 0) {
        await this.dimensionsOf(collection, q); // still COLLECTION_NOT_FOUND for a missing collection
        return found;
      }
      for (const batch of chunks([...new Set(ids.map(pointIdOf))], this.opts.batchSize)) {
        const records = await this.request(collection, 'get', () => this.client.retrieve(q, { ids: batch, with_payload: true, with_vector: withVector }));
        for (const r of records) found.set(String(r.id), r);
      }
      return found;
    });
  }

  /** Runs one public call, so that close() can wait for it. */
  private async track<T>(body: () => Promise<T>): Promise<T> {
    this.live();
    const p = body();
    this.inFlight.add(p);
    try {
      return await p;
    } finally {
      this.inFlight.delete(p);
    }
  }

  /** One Qdrant request: retried while the failure is transient, then mapped to a FaceIndexError. */
  private async request<T>(collection: string | null, action: string, send: () => Promise<T>): Promise<T> {
    const what = collection === null ? `Qdrant ${action}` : `${action} in collection ${collection}`;
    for (let attempt = 1; ; attempt++) {
      try {
        return await send();
      } catch (err) {
        if (attempt <= this.opts.retries && isTransient(err)) {
          await sleep(retryDelayMs(err, attempt, this.opts.retryDelayMs));
          continue;
        }
        const mapped = toFaceIndexError(err, what);
        if (collection !== null && (mapped.code === 'COLLECTION_NOT_FOUND' || mapped.code === 'DIMENSION_MISMATCH')) {
          this.dims.delete(collection); // dropped or re-created elsewhere: look again next time
        }
        throw mapped;
      }
    }
  }

  private async collectionInfo(name: string, q: string): Promise<Schemas['CollectionInfo'] | null> {
    try {
      return await this.request(name, 'read collection', () => this.client.getCollection(q));
    } catch (err) {
      if (err instanceof FaceIndexError && err.code === 'COLLECTION_NOT_FOUND') return null;
      throw err;
    }
  }

  private async dimensionsOf(name: string, q: string, fresh = false): Promise<number> {
    const cached = fresh ? undefined : this.dims.get(name);
    if (cached !== undefined) return cached;
    const d = vectorSizeOf(await this.request(name, 'read collection', () => this.client.getCollection(q)), name);
    this.dims.set(name, d);
    return d;
  }

  /**
   * Checks vectors against the collection's dimension. A mismatch against the cached dimension is
   * re-checked against a fresh one, in case the collection was re-created by another process.
   */
  private async checkVectors(name: string, q: string, vectors: [Float32Array, string][]): Promise<void> {
    const fromCache = this.dims.has(name);
    const checkAll = (d: number) => {
      for (const [v, what] of vectors) checkVector(v, d, what);
    };
    try {
      checkAll(await this.dimensionsOf(name, q));
    } catch (err) {
      if (!(fromCache && err instanceof FaceIndexError && err.code === 'DIMENSION_MISMATCH')) throw err;
      checkAll(await this.dimensionsOf(name, q, true));
    }
  }

  /**
   * Deletes every point matching `filter`, a page at a time, and counts them (Qdrant's delete does
   * not say how many it removed). Each page is read then deleted by id, so the count is exactly
   * what this call removed, and a large filter never turns into one unbounded request.
   */
  private async deleteMatching(name: string, q: string, filter: QdrantFilter): Promise<number> {
    let deleted = 0;
    for (;;) {
      const page = await this.request(name, 'select faces to delete', () =>
        this.client.scroll(q, { filter, limit: this.opts.batchSize, with_payload: false, with_vector: false }),
      );
      if (page.points.length === 0) return deleted;
      const points = page.points.map((p) => p.id);
      await this.request(name, 'delete', () => this.client.delete(q, { points, wait: true, ordering: 'medium' }));
      deleted += points.length;
      if (page.next_page_offset === null || page.next_page_offset === undefined) return deleted;
    }
  }
}

function checkIds(ids: string[]): void {
  if (!Array.isArray(ids)) throw new FaceIndexError('INVALID_ARGUMENT', 'ids must be an array');
  for (const id of ids) checkFaceId(id);
}
