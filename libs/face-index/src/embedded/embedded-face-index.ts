/**
 * The embedded face index: the single-machine default. One directory, owned by one process (a lock
 * file), one sub-directory per collection (see embedded-collection.ts and snapshot.ts for what is
 * inside and how it survives crashes).
 *
 * Reads run on the in-memory state and never wait for writes; a write resolves once it is durable
 * and visible to reads.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FaceIndexError } from '../errors';
import type { DeleteSelector, FaceFilter, FaceIndex, FacePayload, Hit, IndexedFace, ScrollOptions, ScrollPage } from '../face-index';
import {
  checkCollectionName, checkDimensions, checkFaceId, checkK, checkPayload, checkScrollLimit, checkVector, COLLECTION_NAME,
  filterTerms,
} from '../validation';
import { EmbeddedCollection } from './embedded-collection';
import { type EmbeddedFaceIndexOptions, type EmbeddedSearchOptions, resolveOptions, type ResolvedOptions } from './embedded-options';
import { DirectoryLock } from './lock-file';

export class EmbeddedFaceIndex implements FaceIndex {
  private readonly collections = new Map<string, EmbeddedCollection>();
  /** Creates and drops run one at a time. */
  private ddl: Promise<unknown> = Promise.resolve();
  private closing: Promise<void> | null = null;

  private constructor(
    readonly dir: string,
    private readonly lock: DirectoryLock,
    private readonly opts: ResolvedOptions,
  ) {}

  /**
   * Opens (creating if needed) the index in `dir`: takes the lock (INDEX_LOCKED if a live process
   * holds it), then loads every collection and replays its WAL (INDEX_CORRUPT if that fails).
   */
  static async open(dir: string, options: EmbeddedFaceIndexOptions = {}): Promise<EmbeddedFaceIndex> {
    const opts = resolveOptions(options);
    // Snapshots and the WAL store float32 in the machine's byte order; every supported one is LE.
    if (os.endianness() !== 'LE') throw new Error('the embedded face index needs a little-endian machine');
    const root = path.resolve(dir);
    await mkdir(root, { recursive: true });
    const lock = DirectoryLock.acquire(root);
    const index = new EmbeddedFaceIndex(root, lock, opts);
    try {
      for (const entry of await readdir(root, { withFileTypes: true })) {
        if (!entry.isDirectory()) continue;
        if (entry.name.startsWith('.creating-') || entry.name.startsWith('.dropped-')) {
          // An interrupted create or drop: the rename that would have committed it never happened
          // (create), or it did and only the deletion is left (drop).
          await rm(path.join(root, entry.name), { recursive: true, force: true });
        } else if (COLLECTION_NAME.test(entry.name)) {
          index.collections.set(entry.name, await EmbeddedCollection.open(root, entry.name, opts));
        }
      }
    } catch (err) {
      for (const c of index.collections.values()) await c.close().catch(() => undefined);
      lock.release();
      throw err;
    }
    return index;
  }

  async ensureCollection(name: string, dimensions: number): Promise<void> {
    this.live();
    checkCollectionName(name);
    checkDimensions(dimensions);
    await this.serial(async () => {
      this.live();
      const existing = this.collections.get(name);
      if (existing) {
        if (existing.dimensions !== dimensions) {
          throw new FaceIndexError('DIMENSION_MISMATCH', `collection ${name} exists with ${existing.dimensions} dimensions, not ${dimensions}`);
        }
        return;
      }
      this.collections.set(name, await EmbeddedCollection.create(this.dir, name, dimensions, this.opts));
    });
  }

  async dropCollection(name: string): Promise<void> {
    this.live();
    await this.serial(async () => {
      const c = this.collection(name);
      this.collections.delete(name);
      await c.drop(this.dir);
    });
  }

  async upsert(collection: string, faces: IndexedFace[]): Promise<void> {
    const c = this.collection(collection);
    if (!Array.isArray(faces)) throw new FaceIndexError('INVALID_ARGUMENT', 'faces must be an array');
    if (faces.length === 0) return;
    // The last occurrence of an id wins, as if the faces had been upserted one after another.
    const last = new Map<string, number>();
    faces.forEach((f, i) => {
      checkFaceId(f?.id);
      last.set(f.id, i);
    });
    const d = c.dimensions;
    const ids: string[] = [];
    const payloads: FacePayload[] = [];
    const vectors = new Float32Array(last.size * d);
    for (const i of last.values()) {
      const f = faces[i];
      checkVector(f.vector, d, `vector of face ${f.id}`);
      checkPayload(f.payload, f.id);
      vectors.set(f.vector, ids.length * d);
      ids.push(f.id);
      payloads.push(f.payload);
    }
    await c.submit({ t: 'u', ids, payloads, vectors });
  }

  async search(collection: string, vector: Float32Array, opts: EmbeddedSearchOptions): Promise<Hit[]> {
    const c = this.collection(collection);
    checkK(opts?.k);
    checkVector(vector, c.dimensions, 'query vector');
    const terms = filterTerms(opts.filter);
    const expansionSearch = opts.expansionSearch ?? this.opts.expansionSearch;
    if (!Number.isInteger(expansionSearch) || expansionSearch < 1) {
      throw new FaceIndexError('INVALID_ARGUMENT', `expansionSearch must be a positive integer, got ${expansionSearch}`);
    }
    return c.state.search(vector, opts.k, terms, opts.exact === true, {
      expansionSearch,
      exactFilterMax: this.opts.exactFilterMax,
      exactThreads: this.opts.threads,
      connectivity: c.connectivity,
      graphIsExact: c.quantization === 'f32',
    });
  }

  async get(collection: string, ids: string[]): Promise<(Hit | null)[]> {
    const c = this.collection(collection);
    checkIds(ids);
    return c.state.get(ids);
  }

  async getVectors(collection: string, ids: string[]): Promise<(Float32Array | null)[]> {
    const c = this.collection(collection);
    checkIds(ids);
    return c.state.vectorsOf(ids);
  }

  async setPayload(collection: string, ids: string[], patch: Partial<FacePayload>): Promise<void> {
    const c = this.collection(collection);
    checkIds(ids);
    if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) throw new FaceIndexError('INVALID_ARGUMENT', 'patch must be an object');
    if ('photoKey' in patch && typeof patch.photoKey !== 'string') throw new FaceIndexError('INVALID_ARGUMENT', 'photoKey cannot be removed or made a non-string');
    const set: Record<string, unknown> = {};
    const unset: string[] = [];
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) unset.push(k);
      else set[k] = v;
    }
    if (ids.length === 0 || (unset.length === 0 && Object.keys(set).length === 0)) return;
    await c.submit({ t: 's', ids: [...new Set(ids)], set, unset });
  }

  async delete(collection: string, selector: DeleteSelector): Promise<number> {
    const c = this.collection(collection);
    if (selector === null || typeof selector !== 'object') throw new FaceIndexError('INVALID_ARGUMENT', 'selector must be an object');
    const terms = filterTerms(selector.filter);
    if (selector.ids !== undefined) checkIds(selector.ids);
    else if (terms.length === 0) {
      throw new FaceIndexError('INVALID_ARGUMENT', 'delete needs ids or a non-empty filter (refusing to delete everything)');
    }
    if (selector.ids?.length === 0) return 0;
    const filter: FaceFilter | undefined = terms.length > 0 ? Object.fromEntries(terms) : undefined;
    return (await c.submit({ t: 'd', ids: selector.ids, filter })) ?? 0;
  }

  async count(collection: string, filter?: FaceFilter): Promise<number> {
    return this.collection(collection).state.count(filterTerms(filter));
  }

  async scroll(collection: string, opts: ScrollOptions): Promise<ScrollPage> {
    const c = this.collection(collection);
    checkScrollLimit(opts?.limit);
    const terms = filterTerms(opts.filter);
    let after = 0;
    if (opts.cursor !== undefined) {
      if (typeof opts.cursor !== 'string' || !/^\d{1,15}$/.test(opts.cursor)) throw new FaceIndexError('INVALID_ARGUMENT', `bad scroll cursor ${JSON.stringify(opts.cursor)}`);
      after = Number(opts.cursor);
    }
    const { recs, more } = c.state.scroll(terms, after, opts.limit);
    return {
      items: recs.map((r) => ({ id: r.id, score: 1, payload: structuredClone(r.payload) })),
      ...(more ? { next: String(recs[recs.length - 1].seq) } : {}),
    };
  }

  /** Writes a snapshot of one collection (or all) now and empties its WAL. Embedded index only. */
  async checkpoint(collection?: string): Promise<void> {
    const targets = collection === undefined ? [...this.collections.values()] : [this.collection(collection)];
    for (const c of targets) await c.checkpoint();
  }

  /** Names of the collections, sorted. Embedded index only. */
  listCollections(): string[] {
    this.live();
    return [...this.collections.keys()].sort();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.ddl.catch(() => undefined);
      try {
        for (const c of this.collections.values()) await c.close();
      } finally {
        this.collections.clear();
        this.lock.release();
      }
    })();
    return this.closing;
  }

  private live(): void {
    if (this.closing) throw new FaceIndexError('INDEX_CLOSED', 'the index is closed');
  }

  private collection(name: string): EmbeddedCollection {
    this.live();
    const c = typeof name === 'string' ? this.collections.get(name) : undefined;
    if (!c) throw new FaceIndexError('COLLECTION_NOT_FOUND', `no collection ${JSON.stringify(name)}`);
    return c;
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.ddl.then(task, task);
    this.ddl = run.catch(() => undefined);
    return run;
  }
}

function checkIds(ids: string[]): void {
  if (!Array.isArray(ids)) throw new FaceIndexError('INVALID_ARGUMENT', 'ids must be an array');
  for (const id of ids) checkFaceId(id);
}
