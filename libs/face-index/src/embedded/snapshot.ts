/**
 * Snapshots of a collection and the manifest that names the current one.
 *
 * Directory of a collection (generation g):
 *   manifest.json       the commit point: generation, dimension, graph settings, counters, and the
 *                       size and checksum of each snapshot file. Replaced atomically (temp file,
 *                       fsync, rename, fsync dir): whatever it names is complete and durable.
 *   vectors-g.f32       the exact vectors, float32 little-endian, one row per face, in row order
 *   records-g.jsonl     one line per face in the same row order: [id, seq, key, payload]
 *   hnsw-g.usearch      usearch's own serialisation of the graph (keys = the records' keys)
 *   projection-g.f32    the graph's projection (projection.ts), when it has one: P×D float32 LE
 *   wal-g.log           writes since snapshot g (see wal.ts)
 * Generation 0 has no snapshot files: the collection starts empty. Files of any other generation
 * are leftovers of an interrupted checkpoint and are deleted on open.
 */
import { createReadStream, readSync } from 'node:fs';
import { type FileHandle, open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { crc32 } from 'node:zlib';
import { FaceIndexError } from '../errors';
import type { FacePayload } from '../face-index';
import type { FaceRecord } from './collection-state';
import { fsyncFile, writeFileAtomic } from './fs-util';
import type { HnswQuantization } from './hnsw';
import { Projection } from './projection';
import type { VectorStore } from './vector-store';

export const MANIFEST = 'manifest.json';
/** 2 when the snapshot has a projection (which format-1 readers would misread); otherwise 1. */
export type Format = 1 | 2;

export interface SnapshotFiles {
  /** Faces in the snapshot. */
  count: number;
  vectorsBytes: number;
  vectorsCrc32: number;
  recordsBytes: number;
  recordsCrc32: number;
  hnswBytes: number;
  /** The graph's projection: `to` rows of the collection's dimension. Absent: the graph is unprojected. */
  projection?: { to: number; crc32: number };
}

export interface Manifest {
  format: Format;
  collection: string;
  dimensions: number;
  metric: 'cos';
  /** Fixed when the collection is created; the saved graph carries them too. */
  hnsw: { connectivity: number; expansionAdd: number; quantization: HnswQuantization };
  generation: number;
  nextKey: number;
  nextSeq: number;
  /** null for generation 0. */
  snapshot: SnapshotFiles | null;
  createdAt: string;
  checkpointedAt?: string;
  /**
   * Set once a projection was fitted for the collection (whether or not one was worth keeping), so
   * that it is not fitted again.
   */
  projectionFitted?: boolean;
}

export const fileNames = (generation: number) => ({
  vectors: `vectors-${generation}.f32`,
  records: `records-${generation}.jsonl`,
  hnsw: `hnsw-${generation}.usearch`,
  projection: `projection-${generation}.f32`,
  wal: `wal-${generation}.log`,
});

export async function readManifest(dir: string): Promise<Manifest> {
  const file = path.join(dir, MANIFEST);
  let m: Manifest;
  try {
    m = JSON.parse(await readFile(file, 'utf8')) as Manifest;
  } catch (err) {
    throw new FaceIndexError('INDEX_CORRUPT', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  if ((m.format !== 1 && m.format !== 2) || !Number.isInteger(m.dimensions) || !Number.isInteger(m.generation) || m.metric !== 'cos') {
    throw new FaceIndexError('INDEX_CORRUPT', `${file}: unknown format or missing fields`);
  }
  return m;
}

export async function writeManifest(dir: string, m: Manifest): Promise<void> {
  const format: Format = m.snapshot?.projection ? 2 : 1;
  await writeFileAtomic(path.join(dir, MANIFEST), JSON.stringify({ ...m, format }, null, 2) + '\n');
}

/**
 * Writes the snapshot files of `generation` (vectors, records, graph), each fsynced. Not yet
 * current: the caller commits them by writing the manifest.
 */
export async function writeSnapshot(
  dir: string,
  generation: number,
  vectors: VectorStore<FaceRecord>,
  saveGraph: (file: string) => void,
  projection: Projection | null,
): Promise<SnapshotFiles> {
  const names = fileNames(generation);
  const count = vectors.size;

  // Vectors: the store's chunks as they are.
  let vectorsCrc32 = 0, vectorsBytes = 0;
  const vf = await open(path.join(dir, names.vectors), 'w');
  try {
    for (const { data } of vectors.matrices()) {
      const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      vectorsCrc32 = crc32(bytes, vectorsCrc32);
      await writeAll(vf, bytes);
      vectorsBytes += bytes.length;
    }
    await vf.sync();
  } finally {
    await vf.close();
  }

  // Records: JSON lines in row order, written in ~4 MiB pieces (a single string for millions of
  // faces would pass V8's maximum string length).
  let recordsCrc32 = 0, recordsBytes = 0;
  const rf = await open(path.join(dir, names.records), 'w');
  try {
    let piece: string[] = [];
    let pieceChars = 0;
    const flush = async () => {
      const bytes = Buffer.from(piece.join(''), 'utf8');
      recordsCrc32 = crc32(bytes, recordsCrc32);
      await writeAll(rf, bytes);
      recordsBytes += bytes.length;
      piece = [];
      pieceChars = 0;
    };
    for (let row = 0; row < count; row++) {
      const rec = vectors.owner(row);
      const line = JSON.stringify([rec.id, rec.seq, rec.key, rec.payload]) + '\n';
      piece.push(line);
      pieceChars += line.length;
      if (pieceChars >= 4 * 1024 * 1024) await flush();
    }
    if (piece.length > 0) await flush();
    await rf.sync();
  } finally {
    await rf.close();
  }

  // The graph: usearch writes the file itself (synchronously) and does not fsync it.
  const hnswFile = path.join(dir, names.hnsw);
  saveGraph(hnswFile);
  fsyncFile(hnswFile);
  const hnswBytes = (await stat(hnswFile)).size;

  if (!projection) return { count, vectorsBytes, vectorsCrc32, recordsBytes, recordsCrc32, hnswBytes };
  const bytes = Buffer.from(projection.matrix.buffer, projection.matrix.byteOffset, projection.matrix.byteLength);
  const pf = await open(path.join(dir, names.projection), 'w');
  try {
    await writeAll(pf, bytes);
    await pf.sync();
  } finally {
    await pf.close();
  }
  return { count, vectorsBytes, vectorsCrc32, recordsBytes, recordsCrc32, hnswBytes, projection: { to: projection.to, crc32: crc32(bytes) } };
}

/** The snapshot's projection, checked against the manifest; null when it has none. */
export async function readProjection(dir: string, generation: number, snap: SnapshotFiles, dimensions: number): Promise<Projection | null> {
  if (!snap.projection) return null;
  const file = path.join(dir, fileNames(generation).projection);
  const { to, crc32: expected } = snap.projection;
  if (!Number.isInteger(to) || to < 1 || to > dimensions) throw new FaceIndexError('INDEX_CORRUPT', `${dir}: the manifest's projection has ${to} rows`);
  await expectSize(file, to * dimensions * 4);
  const bytes = await readFile(file);
  if (crc32(bytes) !== expected) throw new FaceIndexError('INDEX_CORRUPT', `${file}: checksum mismatch`);
  // A copy: readFile's buffer may sit at an offset that Float32Array cannot start at.
  const matrix = new Float32Array(to * dimensions);
  Buffer.from(matrix.buffer).set(bytes);
  return new Projection(dimensions, to, matrix);
}

/** Reads the records and checks both data files against the manifest (INDEX_CORRUPT if not). */
export async function readSnapshotRecords(dir: string, generation: number, snap: SnapshotFiles): Promise<FaceRecord[]> {
  const file = path.join(dir, fileNames(generation).records);
  await expectSize(file, snap.recordsBytes);
  const records: FaceRecord[] = [];
  let crc = 0;
  let rest = '';
  // Streamed (the file can be larger than V8's maximum string length); the decoder keeps a UTF-8
  // character that straddles two pieces whole.
  const decoder = new StringDecoder('utf8');
  for await (const piece of createReadStream(file, { highWaterMark: 4 * 1024 * 1024 }) as AsyncIterable<Buffer>) {
    crc = crc32(piece, crc);
    const text = rest + decoder.write(piece);
    const lines = text.split('\n');
    rest = lines.pop()!;
    for (const line of lines) records.push(parseRecord(line, file, records.length));
  }
  if (rest.length > 0) records.push(parseRecord(rest, file, records.length));
  if (crc !== snap.recordsCrc32) throw new FaceIndexError('INDEX_CORRUPT', `${file}: checksum mismatch`);
  if (records.length !== snap.count) throw new FaceIndexError('INDEX_CORRUPT', `${file}: ${records.length} records, manifest says ${snap.count}`);
  return records;
}

/**
 * Returns a `fill` for `VectorStore.bulkLoad` that reads the vectors file chunk by chunk, and a
 * check to call afterwards (checksum).
 */
export async function openSnapshotVectors(
  dir: string,
  generation: number,
  snap: SnapshotFiles,
  dimensions: number,
): Promise<{ fill: (chunk: Float32Array, firstRow: number, rows: number) => void; finish: () => Promise<void> }> {
  const file = path.join(dir, fileNames(generation).vectors);
  await expectSize(file, snap.count * dimensions * 4);
  const fh = await open(file, 'r');
  let crc = 0;
  return {
    fill: (chunk, firstRow, rows) => {
      const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, rows * dimensions * 4);
      let done = 0;
      while (done < bytes.length) {
        const n = readSync(fh.fd, bytes, done, bytes.length - done, firstRow * dimensions * 4 + done);
        if (n === 0) throw new FaceIndexError('INDEX_CORRUPT', `${file}: shorter than expected`);
        done += n;
      }
      crc = crc32(bytes, crc);
    },
    finish: async () => {
      await fh.close();
      if (crc !== snap.vectorsCrc32) throw new FaceIndexError('INDEX_CORRUPT', `${file}: checksum mismatch`);
    },
  };
}

export async function expectSize(file: string, bytes: number): Promise<void> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (err) {
    throw new FaceIndexError('INDEX_CORRUPT', `${file} is missing`, { cause: err });
  }
  if (size !== bytes) throw new FaceIndexError('INDEX_CORRUPT', `${file} has ${size} bytes, the manifest says ${bytes}`);
}

function parseRecord(line: string, file: string, index: number): FaceRecord {
  try {
    const [id, seq, key, payload] = JSON.parse(line) as [string, number, number, FacePayload];
    if (typeof id !== 'string' || !Number.isInteger(seq) || !Number.isInteger(key) || typeof payload !== 'object') throw new Error('bad fields');
    return { id, seq, key, row: -1, payload };
  } catch (err) {
    throw new FaceIndexError('INDEX_CORRUPT', `${file}: bad record on line ${index + 1}`, { cause: err });
  }
}

async function writeAll(fh: FileHandle, bytes: Buffer): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.length - done);
    done += bytesWritten;
  }
}
