/**
 * The embedded index: the conformance suite on a temp directory, then what only a disk-backed
 * index has to get right: reopening, checkpoints, the lock, and recovery from a torn or corrupt
 * WAL. A "crash" here copies the directory of an open index (every acknowledged write is fsynced,
 * so the copy is what a kill -9 would leave) and opens the copy; crash-recovery.spec.ts does it
 * with a real SIGKILL.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { promises as fsPromises } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeFaceIndexConformance, rng, unit } from '../conformance/face-index.conformance';
import { FaceIndexError } from '../errors';
import type { IndexedFace } from '../face-index';
import { EmbeddedFaceIndex } from './embedded-face-index';
import type { EmbeddedFaceIndexOptions, FaceIndexEvent } from './embedded-options';

const DIM = 16;
const temps: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'face-index-'));
  temps.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

describeFaceIndexConformance('EmbeddedFaceIndex', async () => {
  const dir = tempDir();
  const index = await EmbeddedFaceIndex.open(dir, { threads: 2 });
  return {
    index,
    cleanup: async () => {
      await index.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

function makeFaces(seed: number, n: number, prefix: string): IndexedFace[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    vector: unit(r, DIM),
    payload: { photoKey: `photo${i % 5}`, personId: `person${i % 3}`, n: i },
  }));
}

/** What a kill -9 would leave: a copy of the directory, without the (now dead) owner's lock. */
function crashCopy(dir: string): string {
  const copy = tempDir();
  cpSync(dir, copy, { recursive: true });
  rmSync(path.join(copy, 'LOCK'));
  return copy;
}

async function expectState(index: EmbeddedFaceIndex, collection: string, expected: IndexedFace[]): Promise<void> {
  expect(await index.count(collection)).toBe(expected.length);
  const ids = expected.map((f) => f.id);
  const got = await index.get(collection, ids);
  const vectors = await index.getVectors(collection, ids);
  expected.forEach((f, i) => {
    expect(got[i]?.payload).toEqual(f.payload);
    expect(vectors[i]).toEqual(f.vector);
  });
  if (expected.length > 0) {
    const [top] = await index.search(collection, expected[0].vector, { k: 1 });
    expect(top.id).toBe(expected[0].id);
  }
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toBeInstanceOf(FaceIndexError);
  await expect(p).rejects.toMatchObject({ code });
}

describe('EmbeddedFaceIndex persistence', () => {
  const opts: EmbeddedFaceIndexOptions = { threads: 2 };

  it('keeps everything across close and reopen', async () => {
    const dir = tempDir();
    const faces = makeFaces(1, 300, 'a');
    let index = await EmbeddedFaceIndex.open(dir, opts);
    await index.ensureCollection('c1', DIM);
    await index.ensureCollection('c2', 8);
    await index.upsert('c1', faces);
    await index.setPayload('c1', ['a1', 'a2'], { personId: 'renamed', personNote: 'x' });
    faces[1].payload = { ...faces[1].payload, personId: 'renamed', personNote: 'x' };
    faces[2].payload = { ...faces[2].payload, personId: 'renamed', personNote: 'x' };
    expect(await index.delete('c1', { ids: ['a3', 'a4'] })).toBe(2);
    const expected = faces.filter((f) => f.id !== 'a3' && f.id !== 'a4');
    const scrolled = (await index.scroll('c1', { limit: 1000 })).items.map((h) => h.id);
    await index.close();
    await expectCode(index.count('c1'), 'INDEX_CLOSED');

    index = await EmbeddedFaceIndex.open(dir, opts);
    expect(index.listCollections()).toEqual(['c1', 'c2']);
    await expectState(index, 'c1', expected);
    expect(await index.count('c1', { personId: 'renamed' })).toBe(2);
    expect((await index.scroll('c1', { limit: 1000 })).items.map((h) => h.id)).toEqual(scrolled);
    expect(await index.count('c2')).toBe(0);
    // Still writable after a reopen, with fresh keys that do not collide with loaded ones.
    const more = makeFaces(2, 50, 'b');
    await index.upsert('c1', more);
    await index.upsert('c1', [{ ...more[0], payload: { photoKey: 'again' } }]);
    more[0] = { ...more[0], payload: { photoKey: 'again' } };
    await expectState(index, 'c1', [...expected, ...more]);
    await index.close();
  });

  it('replays the WAL over the latest checkpoint after a crash', async () => {
    const dir = tempDir();
    const events: FaceIndexEvent[] = [];
    const index = await EmbeddedFaceIndex.open(dir, { ...opts, checkpointEvery: 4, onEvent: (e) => events.push(e) });
    await index.ensureCollection('c1', DIM);
    const faces = makeFaces(3, 200, 'f');
    for (let i = 0; i < 10; i++) await index.upsert('c1', faces.slice(i * 20, (i + 1) * 20)); // checkpoints after 4 and 8
    await index.delete('c1', { filter: { photoKey: 'photo2' } });
    await index.setPayload('c1', ['f0'], { identityId: 'id0' });
    const expected = faces.filter((f) => f.payload.photoKey !== 'photo2');
    expected[0].payload = { ...expected[0].payload, identityId: 'id0' };
    expect(events.filter((e) => e.type === 'checkpoint' && e.phase === 'end')).toHaveLength(2);

    const copy = crashCopy(dir);
    await index.close();
    const recoveredEvents: FaceIndexEvent[] = [];
    const reopened = await EmbeddedFaceIndex.open(copy, { ...opts, onEvent: (e) => recoveredEvents.push(e) });
    expect(recoveredEvents).toEqual([expect.objectContaining({ type: 'recovered', generation: 2, replayedRecords: 4, tornBytes: 0 })]);
    await expectState(reopened, 'c1', expected);
    await reopened.close();
    // Old generations are gone from the directory.
    expect(readdirSync(path.join(dir, 'c1')).sort()).toEqual(['hnsw-3.usearch', 'manifest.json', 'records-3.jsonl', 'vectors-3.f32', 'wal-3.log']);
  });

  it('recovers from a WAL alone (no checkpoint yet) and after a dropped collection', async () => {
    const dir = tempDir();
    const index = await EmbeddedFaceIndex.open(dir, opts);
    await index.ensureCollection('keep', DIM);
    await index.ensureCollection('gone', DIM);
    const faces = makeFaces(4, 30, 'k');
    await index.upsert('keep', faces);
    await index.upsert('gone', faces);
    await index.dropCollection('gone');
    const copy = crashCopy(dir);
    await index.close();
    const reopened = await EmbeddedFaceIndex.open(copy, opts);
    expect(reopened.listCollections()).toEqual(['keep']);
    await expectState(reopened, 'keep', faces);
    await reopened.close();
  });

  it('ignores a torn last WAL record and keeps writing after it', async () => {
    const dir = tempDir();
    const index = await EmbeddedFaceIndex.open(dir, opts);
    await index.ensureCollection('c1', DIM);
    const faces = makeFaces(5, 40, 't');
    await index.upsert('c1', faces.slice(0, 20));
    const wal = path.join(dir, 'c1', 'wal-0.log');
    const before = statSync(wal).size;
    await index.upsert('c1', faces.slice(20));
    const full = readFileSync(wal);
    const record = full.subarray(before);
    const copy = crashCopy(dir);
    await index.close();

    // Three shapes of a torn final write: cut short, cut inside its header, zero-filled.
    const shapes = [record.subarray(0, record.length - 100), record.subarray(0, 7), Buffer.alloc(record.length)];
    for (const torn of shapes) {
      const crash = tempDir();
      cpSync(copy, crash, { recursive: true });
      writeFileSync(path.join(crash, 'c1', 'wal-0.log'), Buffer.concat([full.subarray(0, before), torn]));
      const events: FaceIndexEvent[] = [];
      const reopened = await EmbeddedFaceIndex.open(crash, { ...opts, onEvent: (e) => events.push(e) });
      expect(events[0]).toMatchObject({ type: 'recovered', replayedRecords: 1, tornBytes: torn.length });
      await expectState(reopened, 'c1', faces.slice(0, 20));
      expect(statSync(path.join(crash, 'c1', 'wal-0.log')).size).toBe(before); // truncated
      await reopened.upsert('c1', faces.slice(20));
      await reopened.close();
      const again = await EmbeddedFaceIndex.open(crash, opts);
      await expectState(again, 'c1', faces);
      await again.close();
    }
  });

  it('refuses only the writes of a WAL append the disk refused (ENOSPC), and takes writes again once there is room', async () => {
    const dir = tempDir();
    const index = await EmbeddedFaceIndex.open(dir, opts);
    await index.ensureCollection('c1', DIM);
    const faces = makeFaces(8, 30, 'n');
    await index.upsert('c1', faces.slice(0, 10));
    const wal = path.join(dir, 'c1', 'wal-0.log');
    const before = statSync(wal).size;
    // The disk is full for the next write: the file system refuses it (fault injected at the OS
    // boundary, on Node's FileHandle; a real full disk needs a mount this test cannot count on).
    const handle = await fsPromises.open(wal, 'r');
    const proto = Object.getPrototypeOf(handle) as { write: (...args: unknown[]) => Promise<unknown> };
    await handle.close();
    const write = proto.write;
    proto.write = async function (this: unknown, ...args: unknown[]) {
      proto.write = write; // once
      await write.apply(this, [args[0], args[1], Math.min(Number(args[2]), 100), args[3]]); // part of it lands first
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28 });
    };
    try {
      await expect(index.upsert('c1', faces.slice(10, 20))).rejects.toMatchObject({ code: 'WRITE_FAILED', message: expect.stringContaining('nothing was kept') });
    } finally {
      proto.write = write;
    }
    expect(statSync(wal).size).toBe(before); // the part that landed was cut back
    await index.upsert('c1', faces.slice(20));
    await expectState(index, 'c1', [...faces.slice(0, 10), ...faces.slice(20)]);
    const copy = crashCopy(dir);
    await index.close();
    const reopened = await EmbeddedFaceIndex.open(copy, opts);
    await expectState(reopened, 'c1', [...faces.slice(0, 10), ...faces.slice(20)]);
    await reopened.close();
  });

  it('fails a collection for good after a failed fsync of its log, says so once (the matcher restarts on it), and a reopen has every acknowledged write', async () => {
    const dir = tempDir();
    const events: FaceIndexEvent[] = [];
    const index = await EmbeddedFaceIndex.open(dir, { ...opts, onEvent: (e) => events.push(e) });
    await index.ensureCollection('c1', DIM);
    await index.ensureCollection('c2', DIM);
    const faces = makeFaces(9, 20, 'f');
    await index.upsert('c1', faces.slice(0, 10));
    const handle = await fsPromises.open(path.join(dir, 'c1', 'wal-0.log'), 'r');
    const proto = Object.getPrototypeOf(handle) as { datasync: () => Promise<void> };
    await handle.close();
    const datasync = proto.datasync;
    proto.datasync = async () => {
      proto.datasync = datasync; // once: the kernel reports a write-back error
      throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    };
    try {
      await expect(index.upsert('c1', faces.slice(10, 15))).rejects.toMatchObject({ code: 'WRITE_FAILED' });
    } finally {
      proto.datasync = datasync;
    }
    await expect(index.upsert('c1', faces.slice(15))).rejects.toMatchObject({ code: 'WRITE_FAILED', message: expect.stringContaining('reopen the index') });
    expect(events.filter((e) => e.type === 'failed')).toEqual([{ type: 'failed', collection: 'c1', error: expect.objectContaining({ code: 'WRITE_FAILED' }) }]);
    await index.upsert('c2', faces.slice(0, 3)); // other collections go on
    const copy = crashCopy(dir);
    await index.close().catch(() => undefined);
    const reopened = await EmbeddedFaceIndex.open(copy, opts);
    await expectState(reopened, 'c1', faces.slice(0, 10));
    await reopened.upsert('c1', faces.slice(10));
    await expectState(reopened, 'c1', faces);
    await reopened.close();
  });

  it('refuses to open a WAL corrupted in the middle (INDEX_CORRUPT)', async () => {
    const dir = tempDir();
    const index = await EmbeddedFaceIndex.open(dir, opts);
    await index.ensureCollection('c1', DIM);
    await index.upsert('c1', makeFaces(6, 10, 'x'));
    await index.upsert('c1', makeFaces(7, 10, 'y'));
    const copy = crashCopy(dir);
    await index.close();
    const wal = path.join(copy, 'c1', 'wal-0.log');
    const bytes = readFileSync(wal);
    bytes[16 + 16 + 40] ^= 0xff; // inside the first record's body; a whole record follows
    writeFileSync(wal, bytes);
    await expectCode(EmbeddedFaceIndex.open(copy, opts), 'INDEX_CORRUPT');
    // The failed open released the lock.
    expect(readdirSync(copy)).not.toContain('LOCK');
  });

  it('refuses a snapshot whose files do not match the manifest (INDEX_CORRUPT)', async () => {
    const dir = tempDir();
    const index = await EmbeddedFaceIndex.open(dir, opts);
    await index.ensureCollection('c1', DIM);
    await index.upsert('c1', makeFaces(8, 10, 'x'));
    await index.close(); // checkpoints
    const vectors = path.join(dir, 'c1', 'vectors-1.f32');
    const bytes = readFileSync(vectors);
    bytes[5] ^= 1;
    writeFileSync(vectors, bytes);
    await expectCode(EmbeddedFaceIndex.open(dir, opts), 'INDEX_CORRUPT');
    appendFileSync(vectors, Buffer.alloc(4));
    await expectCode(EmbeddedFaceIndex.open(dir, opts), 'INDEX_CORRUPT');
  });

  it('checkpoint() on demand empties the WAL; queued writes around it all land', async () => {
    const dir = tempDir();
    const index = await EmbeddedFaceIndex.open(dir, opts);
    await index.ensureCollection('c1', DIM);
    const faces = makeFaces(9, 60, 'q');
    // Concurrent writers share group commits; a checkpoint queued among them runs in turn.
    await Promise.all([
      ...faces.slice(0, 30).map((f) => index.upsert('c1', [f])),
      index.checkpoint('c1'),
      ...faces.slice(30).map((f) => index.upsert('c1', [f])),
    ]);
    const copy = crashCopy(dir);
    await index.close();
    const reopened = await EmbeddedFaceIndex.open(copy, opts);
    await expectState(reopened, 'c1', faces);
    await reopened.close();
  });
});

describe('EmbeddedFaceIndex lock', () => {
  it('refuses a second open of the same directory while the first is open', async () => {
    const dir = tempDir();
    const first = await EmbeddedFaceIndex.open(dir);
    await expectCode(EmbeddedFaceIndex.open(dir), 'INDEX_LOCKED');
    await first.close();
    const second = await EmbeddedFaceIndex.open(dir);
    await second.close();
  });

  it('refuses while another live process holds the lock', async () => {
    const dir = tempDir();
    const holder = { pid: process.ppid, hostname: os.hostname(), token: 'other', acquiredAt: new Date().toISOString() };
    writeFileSync(path.join(dir, 'LOCK'), JSON.stringify(holder));
    await expectCode(EmbeddedFaceIndex.open(dir), 'INDEX_LOCKED');
  });

  it('takes over a stale lock: dead pid, garbage, or our pid from an earlier process', async () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const stale = [
      JSON.stringify({ pid: dead, hostname: os.hostname(), token: 't', acquiredAt: '2020-01-01T00:00:00Z' }),
      'not json at all',
      '',
      // A container restart: the same pid (often 1) but another process start time.
      JSON.stringify({ pid: process.pid, startTime: 1, hostname: os.hostname(), token: 't', acquiredAt: '2020-01-01T00:00:00Z' }),
    ];
    for (const content of stale) {
      const dir = tempDir();
      writeFileSync(path.join(dir, 'LOCK'), content);
      const index = await EmbeddedFaceIndex.open(dir);
      const owner = JSON.parse(readFileSync(path.join(dir, 'LOCK'), 'utf8'));
      expect(owner.pid).toBe(process.pid);
      await index.close();
      expect(readdirSync(dir)).not.toContain('LOCK');
    }
  });
});

describe('EmbeddedFaceIndex filtered search through the graph', () => {
  it('widens the graph search until k hits pass the filter, and stays correct at any selectivity', async () => {
    const dir = tempDir();
    // exactFilterMax 8: every filter below goes through the HNSW path, not the subset scan.
    const index = await EmbeddedFaceIndex.open(dir, { threads: 2, exactFilterMax: 8, expansionSearch: 32 });
    await index.ensureCollection('c1', 32);
    const r = rng(30);
    const faces: IndexedFace[] = Array.from({ length: 3000 }, (_, i) => ({
      id: `g${i}`,
      vector: unit(r, 32),
      payload: { photoKey: `photo${i % 2}`, personId: `person${i % 20}`, identityId: `id${i % 200}` },
    }));
    await index.upsert('c1', faces);
    const filters = [{ photoKey: 'photo1' }, { personId: 'person7' }, { identityId: 'id13' }, { photoKey: 'photo0', personId: 'person4' }];
    for (const filter of filters) {
      const subset = faces.filter((f) => Object.entries(filter).every(([k, v]) => f.payload[k] === v));
      let found = 0, total = 0;
      for (let q = 0; q < 10; q++) {
        const query = unit(r, 32);
        const hits = await index.search('c1', query, { k: 10, filter });
        expect(hits).toHaveLength(Math.min(10, subset.length));
        for (const h of hits) expect(h.payload).toMatchObject(filter);
        const truth = new Set(
          subset
            .map((f) => ({ id: f.id, s: f.vector.reduce((a, x, i) => a + x * query[i], 0) }))
            .sort((a, b) => b.s - a.s)
            .slice(0, 10)
            .map((t) => t.id),
        );
        found += hits.filter((h) => truth.has(h.id)).length;
        total += truth.size;
      }
      expect(found / total).toBeGreaterThanOrEqual(0.9);
    }
    // Per-call graph effort: a wide graph search finds (nearly) the exact top 10, and asking for as
    // many candidates as the collection holds is answered by the exact scan.
    let agree = 0;
    for (let i = 0; i < 20; i++) {
      const query = unit(r, 32);
      const wide = await index.search('c1', query, { k: 10, expansionSearch: 1500 });
      const truth = new Set((await index.search('c1', query, { k: 10, exact: true })).map((h) => h.id));
      agree += wide.filter((h) => truth.has(h.id)).length;
    }
    expect(agree / 200).toBeGreaterThanOrEqual(0.98);
    const q = unit(r, 32);
    const all = await index.search('c1', q, { k: 10, expansionSearch: 3000 });
    const exact = await index.search('c1', q, { k: 10, exact: true });
    expect(all).toEqual(exact);
    await expectCode(index.search('c1', q, { k: 10, expansionSearch: 0 }), 'INVALID_ARGUMENT');
    await index.close();
  });

  it('stays consistent under churn: re-upserts and deletes of many faces, then a reopen', async () => {
    const dir = tempDir();
    let index = await EmbeddedFaceIndex.open(dir, { threads: 2, checkpointEvery: 7 });
    await index.ensureCollection('c1', DIM);
    const r = rng(31);
    const live = new Map<string, IndexedFace>();
    for (let round = 0; round < 30; round++) {
      const batch: IndexedFace[] = Array.from({ length: 40 }, () => {
        const id = `z${Math.floor(r() * 300)}`;
        return { id, vector: unit(r, DIM), payload: { photoKey: `photo${round % 4}`, round } };
      });
      await index.upsert('c1', batch);
      for (const f of batch) live.set(f.id, f);
      const doomed = Array.from({ length: 10 }, () => `z${Math.floor(r() * 300)}`);
      const expectedDeleted = new Set(doomed.filter((id) => live.has(id))).size;
      expect(await index.delete('c1', { ids: doomed })).toBe(expectedDeleted);
      for (const id of doomed) live.delete(id);
    }
    const expected = [...live.values()];
    await expectState(index, 'c1', expected);
    for (const f of expected.slice(0, 20)) {
      const [top] = await index.search('c1', f.vector, { k: 1 });
      expect(top.id).toBe(f.id);
    }
    await index.close();
    index = await EmbeddedFaceIndex.open(dir, { threads: 2 });
    await expectState(index, 'c1', expected);
    await index.close();
  });
});

describe('EmbeddedFaceIndex with a quantized graph', () => {
  it('keeps exact scores and high recall with an f16 graph (hits re-ranked on float32 vectors)', async () => {
    const dir = tempDir();
    let index = await EmbeddedFaceIndex.open(dir, { threads: 2, quantization: 'f16' });
    await index.ensureCollection('c1', 64);
    const r = rng(40);
    const faces: IndexedFace[] = Array.from({ length: 800 }, (_, i) => ({ id: `h${i}`, vector: unit(r, 64), payload: { photoKey: 'p' } }));
    await index.upsert('c1', faces);
    await index.close();
    index = await EmbeddedFaceIndex.open(dir, { threads: 2, quantization: 'f32' }); // the collection keeps f16
    let found = 0;
    for (let q = 0; q < 30; q++) {
      const query = unit(r, 64);
      const exact = await index.search('c1', query, { k: 10, exact: true });
      const hits = await index.search('c1', query, { k: 10 });
      const truth = new Map(exact.map((h) => [h.id, h.score]));
      for (const h of hits) {
        if (truth.has(h.id)) {
          found++;
          expect(h.score).toBe(truth.get(h.id)); // the same float32 arithmetic as the exact path
        }
      }
    }
    expect(found / 300).toBeGreaterThanOrEqual(0.95);
    expect(readFileSync(path.join(dir, 'c1', 'manifest.json'), 'utf8')).toContain('"quantization": "f16"');
    await index.close();
  });
});
