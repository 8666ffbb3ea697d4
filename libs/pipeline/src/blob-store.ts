import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { PipelineError } from './pipeline-error';

const BLOB_ID = /^[a-f0-9]{64}$/;

/**
 * Uploaded photos on local (or shared) disk, addressed by the sha256 of their bytes: the same
 * photo uploaded twice is stored once, and a blob id can be trusted to name its exact bytes.
 * Layout: `<dir>/<id[0..2]>/<id>` (fan-out keeps directories small) and `<dir>/tmp/` for writes in
 * progress, on the same file system so that the final rename is atomic.
 */
export class BlobStore {
  constructor(private readonly dir: string) {}

  /**
   * Stores bytes and returns their id. Data goes to a temp file, is fsynced and renamed into place,
   * so a reader never sees half a blob, even after a crash. Past `maxBytes` the write is abandoned
   * and its temp file removed. A stream source is left as it is, neither read further nor
   * destroyed: destroying a multipart file stream breaks the parser of its whole request (a bare
   * 500, or a request that hangs when more parts follow), so the caller drains or destroys it.
   *
   * `private: true` stores the bytes under a random id instead of their hash: a blob nobody else
   * can share, which its owner may delete as soon as it is done with it (the photos of synchronous
   * calls) without racing other uploads of the same bytes.
   *
   * `created` is false when the same bytes were stored already (this call added nothing).
   */
  async put(
    data: Buffer | NodeJS.ReadableStream,
    maxBytes: number,
    opts: { private?: boolean } = {},
  ): Promise<{ blobId: string; size: number; sha256: string; created: boolean }> {
    if (Buffer.isBuffer(data) && data.length > maxBytes) throw tooLarge(maxBytes);
    const tmpDir = path.join(this.dir, 'tmp');
    await fs.mkdir(tmpDir, { recursive: true });
    const tmp = path.join(tmpDir, `${randomUUID()}.part`);
    const hash = createHash('sha256');
    let size = 0;
    const file = await fs.open(tmp, 'wx', 0o640);
    let renamed = false;
    try {
      try {
        const chunks: AsyncIterable<Buffer | string> | Buffer[] = Buffer.isBuffer(data) ? [data] : sourceOf(data);
        let writeError: unknown;
        for await (const chunk of chunks) {
          const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
          size += buf.length;
          if (size > maxBytes) throw tooLarge(maxBytes); // leaves the loop, not the stream (sourceOf)
          // A failed write (a full disk) does not break out: a destroyed upload stream fails its
          // request with an AbortError that hides the cause. The rest (at most maxBytes) is drained.
          if (writeError) continue;
          hash.update(buf);
          await writeAll(file, buf).catch((err: unknown) => (writeError = err));
        }
        if (writeError) throw writeError;
        // A private blob lives for one synchronous call: if the machine crashes the call fails
        // anyway, so it skips the fsyncs (a few ms on the latency-critical path).
        if (!opts.private) await file.sync();
      } finally {
        await file.close();
      }
      const sha256 = hash.digest('hex');
      const blobId = opts.private ? randomBytes(32).toString('hex') : sha256;
      const final = this.pathOf(blobId);
      await fs.mkdir(path.dirname(final), { recursive: true });
      // Same content, same name: if it is already there, keep the existing file (dedupe). One of
      // another size is not the same content (a copy cut short by a crash or a bug): replace it.
      if ((await sizeOf(final)) !== size) {
        await fs.rename(tmp, final);
        renamed = true;
        if (!opts.private) await syncDir(path.dirname(final));
      }
      return { blobId, size, sha256, created: renamed };
    } finally {
      if (!renamed) await fs.rm(tmp, { force: true });
    }
  }

  /**
   * Removes the temp files of writes that can no longer finish: a process killed mid-upload leaves
   * its `.part` file behind (it is never referenced: only a renamed blob gets an id). Only files
   * untouched for `olderThanMs` go, since a live upload — perhaps another gateway's, on a shared
   * volume — keeps writing to its own. Returns how many were removed.
   */
  async sweepTemp(olderThanMs: number, now = Date.now()): Promise<number> {
    const tmpDir = path.join(this.dir, 'tmp');
    let names: string[];
    try {
      names = await fs.readdir(tmpDir);
    } catch (err) {
      if (isNotFound(err)) return 0;
      throw err;
    }
    let removed = 0;
    for (const name of names.filter((n) => n.endsWith('.part'))) {
      const file = path.join(tmpDir, name);
      const stat = await fs.stat(file).catch(() => undefined);
      if (!stat || now - stat.mtimeMs < olderThanMs) continue;
      await fs.rm(file, { force: true });
      removed++;
    }
    return removed;
  }

  async read(blobId: string): Promise<Buffer> {
    try {
      return await fs.readFile(this.pathOf(blobId));
    } catch (err) {
      if (isNotFound(err)) throw notFound(blobId);
      throw err;
    }
  }

  async delete(blobId: string): Promise<void> {
    if (!BLOB_ID.test(blobId)) return;
    await fs.rm(this.pathOf(blobId), { force: true });
  }

  async has(blobId: string): Promise<boolean> {
    return BLOB_ID.test(blobId) && (await sizeOf(this.pathOf(blobId))) >= 0;
  }

  /** The file of a blob. The id is validated first: it comes from API clients. */
  private pathOf(blobId: string): string {
    if (!BLOB_ID.test(blobId)) throw notFound(blobId);
    return path.join(this.dir, blobId.slice(0, 2), blobId);
  }
}

/** The chunks of a stream, read so that leaving the loop early does not destroy the stream. */
function sourceOf(stream: NodeJS.ReadableStream): AsyncIterable<Buffer | string> {
  return stream instanceof Readable ? stream.iterator({ destroyOnReturn: false }) : (stream as AsyncIterable<Buffer | string>);
}

function tooLarge(maxBytes: number): PipelineError {
  return new PipelineError('PHOTO_TOO_LARGE', `photo is larger than ${maxBytes} bytes`);
}

function notFound(blobId: string): PipelineError {
  return new PipelineError('BLOB_NOT_FOUND', `blob ${JSON.stringify(blobId.slice(0, 80))} does not exist`);
}

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * Writes all of `buf`. A write may take fewer bytes than asked (a disk that fills up takes what it
 * has room for, and only the next write fails with ENOSPC): the rest is written again, so a short
 * write can never leave a blob cut short under the hash of the whole.
 */
async function writeAll(file: fs.FileHandle, buf: Buffer): Promise<void> {
  for (let offset = 0; offset < buf.length; ) {
    const { bytesWritten } = await file.write(buf, offset, buf.length - offset);
    if (bytesWritten === 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    offset += bytesWritten;
  }
}

/** The file's size, or -1 when there is none. */
async function sizeOf(file: string): Promise<number> {
  try {
    return (await fs.stat(file)).size;
  } catch (err) {
    if (isNotFound(err)) return -1;
    throw err;
  }
}

/** Makes the rename itself durable. Not every platform can fsync a directory; then skip it. */
async function syncDir(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch {
    // best effort
  } finally {
    await handle?.close();
  }
}
