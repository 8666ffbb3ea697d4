/**
 * The write-ahead log of one collection: every mutation is appended and fsynced before it is
 * applied in memory and acknowledged, so an acknowledged write survives kill -9 and power loss.
 *
 * File: a 16-byte header, then records.
 *   header  "FPWAL001" | u32 generation | u32 dimensions                       (little-endian)
 *   record  u32 magic | u32 bodyLength | u32 crc32(body) | u32 crc32(first 12 bytes)
 *   body    u32 jsonLength | JSON (UTF-8) | float32 vectors of the upserts, in order
 *   JSON    [op, op, …]   op = {"t":"u","f":[[id,payload],…]}      upsert (one vector each)
 *                             {"t":"d","i":[ids]?,"f":{filter}?}    delete
 *                             {"t":"s","i":[ids],"s":{set},"u":[unset keys]}  setPayload
 *
 * One record per group commit (all the calls that queued while the previous fsync ran), written
 * with one write and made durable with one fdatasync, so a record is all-or-nothing: a batch
 * upsert is never half applied after a crash.
 *
 * Recovery: a torn last record (the crash hit the final, unacknowledged write: a short record, or
 * a bad checksum with nothing but zeros after it) is dropped and the file truncated before it;
 * a bad record followed by more data is corruption in the middle (INDEX_CORRUPT): acknowledged
 * writes would be lost, and the index refuses to guess.
 */
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { FaceIndexError } from '../errors';
import type { FaceFilter, FacePayload } from '../face-index';

const FILE_MAGIC = Buffer.from('FPWAL001', 'latin1');
export const WAL_HEADER_BYTES = 16;
const RECORD_MAGIC = 0x31525746; // "FWR1"
const RECORD_HEADER_BYTES = 16;
/** A record's body length is a u32; stay well inside it (and inside Node's Buffer limits). */
export const MAX_RECORD_BODY = 1024 * 1024 * 1024;

export type WalOp =
  | { t: 'u'; ids: string[]; payloads: FacePayload[]; vectors: Float32Array }
  | { t: 'd'; ids?: string[]; filter?: FaceFilter }
  | { t: 's'; ids: string[]; set: Record<string, unknown>; unset: string[] };

/** An op serialised once, when it is submitted (so bad payloads fail the call, not the group). */
export interface EncodedOp {
  json: string;
  /** The upsert's vectors (row-major, our own copy); absent for other ops. */
  vectors?: Float32Array;
  /** Body bytes this op adds to a record. */
  bytes: number;
}

export function encodeOp(op: WalOp): EncodedOp {
  let json: string;
  switch (op.t) {
    case 'u':
      json = JSON.stringify({ t: 'u', f: op.ids.map((id, i) => [id, op.payloads[i]]) });
      return { json, vectors: op.vectors, bytes: Buffer.byteLength(json) + 1 + op.vectors.byteLength };
    case 'd':
      json = JSON.stringify({ t: 'd', i: op.ids, f: op.filter });
      break;
    case 's':
      json = JSON.stringify({ t: 's', i: op.ids, s: op.set, u: op.unset });
      break;
  }
  return { json, bytes: Buffer.byteLength(json) + 1 };
}

/** One record holding `ops`, ready to append. */
export function encodeRecord(ops: readonly EncodedOp[]): Buffer {
  const json = Buffer.from(`[${ops.map((o) => o.json).join(',')}]`, 'utf8');
  let vectorBytes = 0;
  for (const o of ops) if (o.vectors) vectorBytes += o.vectors.byteLength;
  const bodyLength = 4 + json.length + vectorBytes;
  if (bodyLength > MAX_RECORD_BODY) throw new FaceIndexError('INVALID_ARGUMENT', `a write of ${bodyLength} bytes exceeds the log's record limit`);
  const buf = Buffer.allocUnsafe(RECORD_HEADER_BYTES + bodyLength);
  let at = RECORD_HEADER_BYTES;
  buf.writeUInt32LE(json.length, at);
  at += 4;
  at += json.copy(buf, at);
  for (const o of ops) {
    if (!o.vectors) continue;
    at += Buffer.from(o.vectors.buffer, o.vectors.byteOffset, o.vectors.byteLength).copy(buf, at);
  }
  buf.writeUInt32LE(RECORD_MAGIC, 0);
  buf.writeUInt32LE(bodyLength, 4);
  buf.writeUInt32LE(crc32(buf.subarray(RECORD_HEADER_BYTES)), 8);
  buf.writeUInt32LE(crc32(buf.subarray(0, 12)), 12);
  return buf;
}

export function encodeFileHeader(generation: number, dimensions: number): Buffer {
  const buf = Buffer.alloc(WAL_HEADER_BYTES);
  FILE_MAGIC.copy(buf, 0);
  buf.writeUInt32LE(generation, 8);
  buf.writeUInt32LE(dimensions, 12);
  return buf;
}

export interface WalScan {
  /** Bytes of the file that hold the header and whole, valid records. */
  validBytes: number;
  /** Bytes after them: a torn final record, to be truncated away. */
  tornBytes: number;
  records: number;
}

/**
 * Decodes every record of a WAL file's contents, calling `onRecord` with its ops in order.
 * Throws INDEX_CORRUPT for a bad header or a bad record that is not the torn tail.
 */
export function scanWal(
  buf: Buffer,
  expect: { generation: number; dimensions: number; file: string },
  onRecord: (ops: WalOp[]) => void,
): WalScan {
  const corrupt = (what: string) => new FaceIndexError('INDEX_CORRUPT', `${expect.file}: ${what}`);
  if (buf.length < WAL_HEADER_BYTES || !buf.subarray(0, 8).equals(FILE_MAGIC)) throw corrupt('not a facepipe WAL file');
  if (buf.readUInt32LE(8) !== expect.generation) throw corrupt(`generation ${buf.readUInt32LE(8)}, expected ${expect.generation}`);
  if (buf.readUInt32LE(12) !== expect.dimensions) throw corrupt(`dimensions ${buf.readUInt32LE(12)}, expected ${expect.dimensions}`);

  let at = WAL_HEADER_BYTES;
  let records = 0;
  const torn = () => ({ validBytes: at, tornBytes: buf.length - at, records });
  while (at < buf.length) {
    if (buf.length - at < RECORD_HEADER_BYTES) return torn();
    const headerOk = buf.readUInt32LE(at) === RECORD_MAGIC && buf.readUInt32LE(at + 12) === crc32(buf.subarray(at, at + 12));
    if (!headerOk) {
      // A crash can leave the file extended with zeros where the unsynced write should be.
      if (allZero(buf, at)) return torn();
      throw corrupt(`bad record header at byte ${at} with data after it`);
    }
    const bodyLength = buf.readUInt32LE(at + 4);
    const end = at + RECORD_HEADER_BYTES + bodyLength;
    if (end > buf.length) return torn();
    const body = buf.subarray(at + RECORD_HEADER_BYTES, end);
    if (crc32(body) !== buf.readUInt32LE(at + 8)) {
      if (end === buf.length || allZero(buf, end)) return torn();
      throw corrupt(`bad record checksum at byte ${at} with data after it`);
    }
    let ops: WalOp[];
    try {
      ops = decodeBody(body, expect.dimensions);
    } catch (err) {
      throw new FaceIndexError('INDEX_CORRUPT', `${expect.file}: undecodable record at byte ${at}: ${(err as Error).message}`, { cause: err });
    }
    onRecord(ops);
    records++;
    at = end;
  }
  return { validBytes: at, tornBytes: 0, records };
}

function allZero(buf: Buffer, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

interface RawOp {
  t: string;
  f?: unknown;
  i?: unknown;
  s?: unknown;
  u?: unknown;
}

function decodeBody(body: Buffer, dimensions: number): WalOp[] {
  const jsonLength = body.readUInt32LE(0);
  const raw = JSON.parse(body.toString('utf8', 4, 4 + jsonLength)) as RawOp[];
  let at = 4 + jsonLength;
  const ops = raw.map((op) =>
    fromRaw(op, (rows) => {
      const bytes = rows * dimensions * 4;
      if (at + bytes > body.length) throw new Error('vectors run past the record');
      // Copy: the record buffer's byteOffset need not be 4-aligned, and the op outlives it.
      const vectors = new Float32Array(rows * dimensions);
      new Uint8Array(vectors.buffer).set(body.subarray(at, at + bytes));
      at += bytes;
      return vectors;
    }),
  );
  if (at !== body.length) throw new Error('record length does not match its ops');
  return ops;
}

function fromRaw(op: RawOp, vectors: (rows: number) => Float32Array): WalOp {
  switch (op.t) {
    case 'u': {
      const faces = op.f as [string, FacePayload][];
      return { t: 'u', ids: faces.map((f) => f[0]), payloads: faces.map((f) => f[1]), vectors: vectors(faces.length) };
    }
    case 'd':
      return { t: 'd', ids: op.i as string[] | undefined, filter: op.f as FaceFilter | undefined };
    case 's':
      return { t: 's', ids: op.i as string[], set: op.s as Record<string, unknown>, unset: op.u as string[] };
    default:
      throw new Error(`unknown op ${JSON.stringify(op.t)}`);
  }
}

/**
 * A submitted op as replay will see it: payloads come back through JSON (so memory holds exactly
 * what the log holds: no `undefined`, no shared references with the caller's objects), vectors
 * are the op's own copy.
 */
export function decodeOp(op: EncodedOp): WalOp {
  return fromRaw(JSON.parse(op.json) as RawOp, () => op.vectors ?? new Float32Array(0));
}

/**
 * An append whose write was refused (ENOSPC, EDQUOT…) and cut back cleanly: the log is as it was
 * before it, so later appends may go on once the cause is gone. A failed fsync is not one of
 * these: after it the kernel may have dropped pages it could not write, so the file's state is
 * unknown.
 */
export class WalWriteRefused extends Error {}

/** Write errors that say "no room" (disk full, over quota, file-size limit): nothing is wrong with the disk itself. */
const NO_ROOM: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);

/**
 * Appends records to the current WAL file at known positions. A failed write or fsync is
 * followed by a truncate back to the last good length, so the file never keeps a partial record
 * in front of later ones; if even that fails, the writer refuses further appends.
 */
export class WalWriter {
  private broken: Error | null = null;

  private constructor(
    private readonly fh: FileHandle,
    readonly file: string,
    private length: number,
  ) {}

  /** Creates an empty WAL file (replacing a leftover of an interrupted checkpoint) and syncs it. */
  static async create(file: string, generation: number, dimensions: number): Promise<WalWriter> {
    const fh = await open(file, 'w');
    try {
      const header = encodeFileHeader(generation, dimensions);
      await writeFully(fh, header, 0);
      await fh.sync();
      return new WalWriter(fh, file, header.length);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** Opens an existing WAL for appending after its `validBytes` (cutting a torn tail away). */
  static async openAt(file: string, validBytes: number): Promise<WalWriter> {
    const fh = await open(file, 'r+');
    try {
      const { size } = await fh.stat();
      if (size !== validBytes) {
        await fh.truncate(validBytes);
        await fh.sync();
      }
      return new WalWriter(fh, file, validBytes);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  get bytes(): number {
    return this.length;
  }

  async append(record: Buffer): Promise<void> {
    if (this.broken) throw this.broken;
    let written = false;
    try {
      await writeFully(this.fh, record, this.length);
      written = true;
      await this.fh.datasync();
      this.length += record.length;
    } catch (err) {
      try {
        await this.fh.truncate(this.length);
        await this.fh.sync();
      } catch (again) {
        this.broken = again as Error;
        throw err;
      }
      if (!written && NO_ROOM.has((err as NodeJS.ErrnoException).code ?? '')) throw new WalWriteRefused((err as Error).message, { cause: err });
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

async function writeFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    if (bytesWritten === 0) throw new Error('write made no progress');
    done += bytesWritten;
  }
}
