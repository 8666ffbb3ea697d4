/**
 * One collection on disk: its state in memory, its WAL, its snapshots, and the order of events
 * that makes them crash-safe.
 *
 * Writes: a call validates and serialises its op, then queues it. One loop drains the queue: it
 * takes every op queued so far, appends them to the WAL as one record, fdatasyncs once (group
 * commit), applies them to memory in order and resolves each call. So a write is acknowledged only
 * when durable, memory never runs ahead of the log, and concurrent writers share fsyncs.
 *
 * Checkpoints run in the same loop (no write can interleave with one), after `checkpointEvery`
 * records or `checkpointBytes` of WAL: snapshot files of generation g+1 are written and fsynced, an
 * empty wal-(g+1) is created, then the manifest is switched atomically; only then are generation
 * g's files deleted. A crash at any point leaves either g (snapshot + complete WAL) or g+1 current.
 *
 * Projection: the first checkpoint that finds `projectionFrom`..PROJECTION_REBUILD_MAX faces fits
 * the graph's projection (projection.ts) on a sample of them, rebuilds the graph through it and
 * saves both in the snapshot it writes; reaching `projectionFrom` faces makes a checkpoint due.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import { FaceIndexError } from '../errors';
import { CollectionState } from './collection-state';
import type { ResolvedOptions } from './embedded-options';
import { fsyncDir, isErrno } from './fs-util';
import { HnswGraph, type HnswParams, type HnswQuantization } from './hnsw';
import { PROJECTION_REBUILD_MAX, PROJECTION_SAMPLE, Projection } from './projection';
import {
  expectSize, fileNames, type Manifest, MANIFEST, openSnapshotVectors, readManifest, readProjection, readSnapshotRecords, writeManifest,
  writeSnapshot,
} from './snapshot';
import { decodeOp, type EncodedOp, encodeOp, encodeRecord, scanWal, WAL_HEADER_BYTES, type WalOp, WalWriteRefused, WalWriter } from './wal';

/** Ops per WAL record are capped by size so one record stays a reasonable single write. */
const GROUP_BYTES = 64 * 1024 * 1024;

type Pending =
  | { kind: 'op'; op: EncodedOp; resolve: (v: number | undefined) => void; reject: (e: unknown) => void }
  | { kind: 'checkpoint'; resolve: () => void; reject: (e: unknown) => void };

export class EmbeddedCollection {
  private pending: Pending[] = [];
  private loop: Promise<void> | null = null;
  /** Set when a write could not be made durable or applied: writes are refused until reopen. */
  private failure: FaceIndexError | null = null;
  /** Set by drop/close: the error new calls get. */
  private shut: FaceIndexError | null = null;
  private walRecords: number;
  private checkpointAtRecords: number;
  private checkpointAtBytes: number;
  private projectionFitted: boolean;

  private constructor(
    readonly name: string,
    readonly dir: string,
    private manifest: Manifest,
    readonly state: CollectionState,
    private wal: WalWriter,
    private readonly opts: ResolvedOptions,
    replayedRecords: number,
  ) {
    this.walRecords = replayedRecords;
    this.checkpointAtRecords = opts.checkpointEvery;
    this.checkpointAtBytes = opts.checkpointBytes;
    this.projectionFitted = manifest.projectionFitted === true;
  }

  get dimensions(): number {
    return this.manifest.dimensions;
  }

  get connectivity(): number {
    return this.manifest.hnsw.connectivity;
  }

  get quantization(): HnswQuantization {
    return this.manifest.hnsw.quantization;
  }

  /** Creates an empty collection directory atomically (built aside, then renamed into place). */
  static async create(root: string, name: string, dimensions: number, opts: ResolvedOptions): Promise<EmbeddedCollection> {
    const dir = path.join(root, name);
    const tmp = path.join(root, `.creating-${name}-${randomBytes(4).toString('hex')}`);
    await mkdir(tmp);
    const manifest: Manifest = {
      format: 1,
      collection: name,
      dimensions,
      metric: 'cos',
      hnsw: { connectivity: opts.connectivity, expansionAdd: opts.expansionAdd, quantization: opts.quantization },
      generation: 0,
      nextKey: 1,
      nextSeq: 1,
      snapshot: null,
      createdAt: new Date().toISOString(),
    };
    const wal = await WalWriter.create(path.join(tmp, fileNames(0).wal), 0, dimensions);
    await wal.close();
    await writeManifest(tmp, manifest);
    await rename(tmp, dir);
    fsyncDir(root);
    const state = new CollectionState(dimensions, HnswGraph.create(dimensions, graphParams(manifest, opts)), 1, 1);
    return new EmbeddedCollection(name, dir, manifest, state, await WalWriter.openAt(path.join(dir, fileNames(0).wal), WAL_HEADER_BYTES), opts, 0);
  }

  /** Opens a collection: the current snapshot, then the WAL replayed over it. */
  static async open(root: string, name: string, opts: ResolvedOptions): Promise<EmbeddedCollection> {
    const started = Date.now();
    const dir = path.join(root, name);
    const manifest = await readManifest(dir);
    if (manifest.collection !== name) {
      throw new FaceIndexError('INDEX_CORRUPT', `${dir}: manifest names collection ${JSON.stringify(manifest.collection)}`);
    }
    const g = manifest.generation;
    const names = fileNames(g);
    const params = graphParams(manifest, opts);
    let state: CollectionState;
    const snap = manifest.snapshot;
    if (snap) {
      const records = await readSnapshotRecords(dir, g, snap);
      const vectors = await openSnapshotVectors(dir, g, snap, manifest.dimensions);
      const hnswFile = path.join(dir, names.hnsw);
      await expectSize(hnswFile, snap.hnswBytes);
      const projection = await readProjection(dir, g, snap, manifest.dimensions);
      const graph = HnswGraph.load(hnswFile, manifest.dimensions, params, projection);
      if (graph.size !== snap.count) throw new FaceIndexError('INDEX_CORRUPT', `${hnswFile}: ${graph.size} vectors, the manifest says ${snap.count}`);
      state = new CollectionState(manifest.dimensions, graph, manifest.nextKey, manifest.nextSeq);
      try {
        state.load(records, vectors.fill);
      } finally {
        await vectors.finish();
      }
    } else {
      state = new CollectionState(manifest.dimensions, HnswGraph.create(manifest.dimensions, params), manifest.nextKey, manifest.nextSeq);
    }

    const walFile = path.join(dir, names.wal);
    let log: Buffer;
    try {
      log = await readFile(walFile);
    } catch (err) {
      // Every generation's WAL is created before the manifest names it: missing means lost writes.
      throw new FaceIndexError('INDEX_CORRUPT', `${walFile} is missing`, { cause: err });
    }
    const scan = scanWal(log, { generation: g, dimensions: manifest.dimensions, file: walFile }, (ops) => {
      for (const op of ops) state.apply(op);
    });
    const wal = await WalWriter.openAt(walFile, scan.validBytes);
    await removeLeftovers(dir, g);
    opts.onEvent?.({
      type: 'recovered', collection: name, generation: g, faces: state.size,
      replayedRecords: scan.records, tornBytes: scan.tornBytes, ms: Date.now() - started,
    });
    return new EmbeddedCollection(name, dir, manifest, state, wal, opts, scan.records);
  }

  // ── writes ─────────────────────────────────────────────────────────────────────────────────

  /** Logs `op` durably, applies it, and resolves with its result (a delete's count). */
  submit(op: WalOp): Promise<number | undefined> {
    const refused = this.shut ?? this.failure;
    if (refused) return Promise.reject(refused);
    let encoded: EncodedOp;
    try {
      encoded = encodeOp(op);
    } catch (err) {
      return Promise.reject(new FaceIndexError('INVALID_ARGUMENT', `payload is not JSON-serialisable: ${(err as Error).message}`, { cause: err }));
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ kind: 'op', op: encoded, resolve, reject });
      this.kick();
    });
  }

  /** Checkpoints now, in turn with queued writes. */
  checkpoint(): Promise<void> {
    const refused = this.shut ?? this.failure;
    if (refused) return Promise.reject(refused);
    return new Promise((resolve, reject) => {
      this.pending.push({ kind: 'checkpoint', resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (!this.loop) this.loop = this.drain();
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const head = this.pending[0];
        if (head.kind === 'checkpoint') {
          this.pending.shift();
          await this.runCheckpoint().then(head.resolve, head.reject);
          continue;
        }
        const group: Extract<Pending, { kind: 'op' }>[] = [];
        let bytes = 0;
        while (this.pending.length > 0 && this.pending[0].kind === 'op' && (group.length === 0 || bytes + this.pending[0].op.bytes <= GROUP_BYTES)) {
          const p = this.pending.shift() as Extract<Pending, { kind: 'op' }>;
          group.push(p);
          bytes += p.op.bytes;
        }
        await this.commit(group);
        if (this.walRecords >= this.checkpointAtRecords || this.wal.bytes >= this.checkpointAtBytes || this.projectionDue()) {
          await this.runCheckpoint().catch(() => {
            // Reported through onEvent; the previous snapshot and the WAL stay current. Try again
            // after another interval rather than after every write.
            this.checkpointAtRecords = this.walRecords + this.opts.checkpointEvery;
            this.checkpointAtBytes = this.wal.bytes + this.opts.checkpointBytes;
          });
        }
      }
    } finally {
      // Runs synchronously once the queue is seen empty, so a later submit always starts a loop.
      this.loop = null;
    }
  }

  private async commit(group: Extract<Pending, { kind: 'op' }>[]): Promise<void> {
    if (this.failure) {
      for (const p of group) p.reject(this.failure);
      return;
    }
    try {
      await this.wal.append(encodeRecord(group.map((p) => p.op)));
    } catch (err) {
      if (err instanceof WalWriteRefused) {
        // Nothing of these writes was kept and the log is whole: refuse them alone. Failing the
        // collection for good made one full disk break it until the matcher restarted.
        const refused = new FaceIndexError('WRITE_FAILED', `collection ${this.name}: the write-ahead log could not be written (${err.message}); nothing was kept, try again`, { cause: err });
        for (const p of group) p.reject(refused);
        return;
      }
      this.fail(`the write-ahead log could not be written or synced: ${(err as Error).message}`, err);
      for (const p of group) p.reject(err instanceof FaceIndexError ? err : this.failure);
      return;
    }
    this.walRecords++;
    for (const p of group) {
      try {
        p.resolve(this.state.apply(decodeOp(p.op)));
      } catch (err) {
        // Logged but not applied: memory and log disagree until a reopen replays the log.
        this.fail(`a logged write could not be applied: ${(err as Error).message}`, err);
        p.reject(this.failure);
      }
    }
  }

  private fail(message: string, cause: unknown): void {
    if (!this.failure) {
      this.failure = new FaceIndexError('WRITE_FAILED', `collection ${this.name}: ${message}; reopen the index`, { cause });
      this.opts.onEvent?.({ type: 'failed', collection: this.name, error: this.failure });
    }
    for (const p of this.pending.splice(0)) p.reject(this.failure);
  }

  private async runCheckpoint(): Promise<void> {
    if (this.failure) throw this.failure;
    const started = Date.now();
    const g = this.manifest.generation;
    const next = g + 1;
    const faces = this.state.size;
    const emit = (phase: 'start' | 'written' | 'committed' | 'end' | 'failed', error?: unknown) =>
      this.opts.onEvent?.({ type: 'checkpoint', collection: this.name, phase, generation: next, faces, ms: Date.now() - started, error });
    emit('start');
    let newWal: WalWriter | null = null;
    let manifest: Manifest;
    try {
      if (this.projectionDue()) await this.fitProjection();
      const snapshot = await writeSnapshot(this.dir, next, this.state.vectors, (file) => this.state.graph.save(file), this.state.graph.projection);
      newWal = await WalWriter.create(path.join(this.dir, fileNames(next).wal), next, this.dimensions);
      fsyncDir(this.dir);
      manifest = {
        ...this.manifest,
        generation: next,
        nextKey: this.state.nextKey,
        nextSeq: this.state.nextSeq,
        snapshot,
        checkpointedAt: new Date().toISOString(),
        ...(this.projectionFitted ? { projectionFitted: true } : {}),
      };
    } catch (err) {
      // Nothing names generation g+1 yet: drop its files, g stays current.
      await newWal?.close().catch(() => undefined);
      await removeLeftovers(this.dir, g).catch(() => undefined);
      emit('failed', err);
      throw err;
    }
    emit('written');
    try {
      await writeManifest(this.dir, manifest);
    } catch (err) {
      // The rename may or may not have happened: either generation may be current on disk, so
      // delete nothing, stop writing, and let a reopen read whichever the manifest names.
      await newWal.close().catch(() => undefined);
      this.fail(`checkpoint could not switch the manifest: ${(err as Error).message}`, err);
      emit('failed', err);
      throw err;
    }
    this.manifest = manifest;
    emit('committed');
    const old = this.wal;
    this.wal = newWal;
    this.walRecords = 0;
    this.checkpointAtRecords = this.opts.checkpointEvery;
    this.checkpointAtBytes = this.opts.checkpointBytes;
    await old.close().catch(() => undefined);
    await removeLeftovers(this.dir, next).catch(() => undefined);
    emit('end');
  }

  /** Whether the graph's projection should be fitted now (at most once per collection). */
  private projectionDue(): boolean {
    const n = this.state.size;
    return this.opts.projection && !this.projectionFitted && n >= this.opts.projectionFrom && n <= PROJECTION_REBUILD_MAX;
  }

  /** Fits the projection on a sample and, if one is worth having, rebuilds the graph through it. */
  private async fitProjection(): Promise<void> {
    const started = Date.now();
    // Once per process even if what follows fails: a failing fit must not make every write due a checkpoint.
    this.projectionFitted = true;
    const { data, rows } = this.state.sampleVectors(PROJECTION_SAMPLE);
    const projection = Projection.fit(data, rows, this.dimensions);
    if (projection) await this.state.rebuildGraph(projection);
    this.opts.onEvent?.({ type: 'projection', collection: this.name, faces: this.state.size, from: this.dimensions, to: projection?.to ?? null, ms: Date.now() - started });
  }

  // ── lifecycle ──────────────────────────────────────────────────────────────────────────────

  private async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  /** Finishes queued writes, checkpoints if the WAL holds anything, and closes the files. */
  async close(): Promise<void> {
    this.shut ??= new FaceIndexError('INDEX_CLOSED', 'the index is closed');
    await this.idle();
    if (this.walRecords > 0 && !this.failure) await this.runCheckpoint().catch(() => undefined);
    await this.wal.close();
  }

  /** Finishes queued writes, then removes the directory (renamed aside first, so it is atomic). */
  async drop(root: string): Promise<void> {
    this.shut ??= new FaceIndexError('COLLECTION_NOT_FOUND', `collection ${this.name} was dropped`);
    await this.idle();
    await this.wal.close();
    const aside = path.join(root, `.dropped-${this.name}-${randomBytes(4).toString('hex')}`);
    await rename(this.dir, aside);
    fsyncDir(root);
    await rm(aside, { recursive: true, force: true });
  }
}

function graphParams(m: Manifest, opts: ResolvedOptions): HnswParams {
  return { ...m.hnsw, threads: opts.threads };
}

/** Deletes every file of the directory that generation `g` does not use. */
async function removeLeftovers(dir: string, g: number): Promise<void> {
  const names = fileNames(g);
  const keep = new Set<string>([MANIFEST, names.wal, names.vectors, names.records, names.hnsw, names.projection]);
  for (const entry of await readdir(dir)) {
    if (keep.has(entry)) continue;
    try {
      await unlink(path.join(dir, entry));
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
  }
}
