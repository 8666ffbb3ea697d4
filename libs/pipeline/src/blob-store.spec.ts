import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { BlobStore } from './blob-store';
import { PipelineError } from './pipeline-error';

/** Every file under `dir`, temp files included. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

describe('BlobStore', () => {
  let dir: string;
  let blobs: BlobStore;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'facepipe-blobs-'));
    blobs = new BlobStore(path.join(dir, 'blobs'));
  });

  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('stores bytes under their sha256 and reads them back', async () => {
    const data = Buffer.from('not really a jpeg');
    const { blobId, size } = await blobs.put(data, 1024);
    expect(blobId).toBe(createHash('sha256').update(data).digest('hex'));
    expect(size).toBe(data.length);
    expect(await blobs.read(blobId)).toEqual(data);
    expect(await blobs.has(blobId)).toBe(true);
    expect(await filesUnder(dir)).toEqual([path.join(dir, 'blobs', blobId.slice(0, 2), blobId)]);
  });

  it('stores the same content once', async () => {
    const data = Buffer.alloc(5000, 7);
    const a = await blobs.put(data, 10_000);
    const b = await blobs.put(Readable.from([data.subarray(0, 1000), data.subarray(1000)]), 10_000);
    expect(a.created).toBe(true);
    expect(b).toEqual({ ...a, created: false }); // the second put added nothing
    expect(await filesUnder(dir)).toHaveLength(1);
  });

  it('stores private blobs under random ids, so deleting one never removes another copy', async () => {
    const bytes = Buffer.from('the same photo, sent twice');
    const shared = await blobs.put(bytes, 1024);
    const a = await blobs.put(bytes, 1024, { private: true });
    const b = await blobs.put(bytes, 1024, { private: true });
    expect(new Set([shared.blobId, a.blobId, b.blobId]).size).toBe(3);
    expect(a.blobId).toMatch(/^[0-9a-f]{64}$/);
    await blobs.delete(a.blobId);
    expect(await blobs.has(a.blobId)).toBe(false);
    expect(await blobs.read(b.blobId)).toEqual(bytes);
    expect(await blobs.read(shared.blobId)).toEqual(bytes);
  });

  it('accepts a stream', async () => {
    const chunks = Array.from({ length: 50 }, (_, i) => Buffer.alloc(1000, i));
    const { blobId, size } = await blobs.put(Readable.from(chunks), 50_000);
    expect(size).toBe(50_000);
    expect(await blobs.read(blobId)).toEqual(Buffer.concat(chunks));
  });

  it.each([
    ['a buffer', () => Buffer.alloc(2001)],
    ['a stream', () => Readable.from(Array.from({ length: 10 }, () => Buffer.alloc(500)))],
  ])('refuses %s over the limit with PHOTO_TOO_LARGE and leaves no file behind', async (_what, make) => {
    const err = await blobs.put(make(), 2000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PipelineError);
    expect(err).toMatchObject({ code: 'PHOTO_TOO_LARGE', status: 413 });
    expect(await filesUnder(dir)).toEqual([]);
  });

  it('stops reading an oversized stream and leaves it to its caller, not destroyed (a multipart parser needs it drained)', async () => {
    let pulled = 0;
    const endless = new Readable({
      read() {
        pulled++;
        this.push(Buffer.alloc(1024));
      },
    });
    await expect(blobs.put(endless, 10 * 1024)).rejects.toMatchObject({ code: 'PHOTO_TOO_LARGE' });
    expect(pulled).toBeLessThan(100);
    expect(endless.destroyed).toBe(false);
    expect(await filesUnder(dir)).toEqual([]);
    endless.destroy();
  });

  it('removes the temp file when the stream fails', async () => {
    const broken = new Readable({
      read() {
        this.destroy(new Error('client went away'));
      },
    });
    await expect(blobs.put(broken, 1000)).rejects.toThrow('client went away');
    expect(await filesUnder(dir)).toEqual([]);
  });

  it('reports a full disk as itself, reading the upload to its end rather than destroying it', async () => {
    // What a full disk does to the temp file's writes (a tmpfs would need root to mount): the
    // first write takes half of what it is given, the next one fails.
    const open = fs.open.bind(fs);
    const spy = jest.spyOn(fs, 'open').mockImplementation(async (...args: Parameters<typeof fs.open>) => {
      const handle = await open(...args);
      const write = handle.write.bind(handle) as (b: Buffer, o: number, l: number) => Promise<{ bytesWritten: number }>;
      let writes = 0;
      handle.write = (async (buf: Buffer, offset = 0, length = buf.length - offset) => {
        if (writes++ === 0) return write(buf, offset, Math.ceil(length / 2));
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      }) as typeof handle.write;
      return handle;
    });
    try {
      const source = Readable.from([Buffer.alloc(1000, 1), Buffer.alloc(1000, 2), Buffer.alloc(1000, 3)]);
      await expect(blobs.put(source, 10_000)).rejects.toMatchObject({ code: 'ENOSPC' });
      expect({ ended: source.readableEnded, destroyedEarly: source.destroyed && !source.readableEnded }).toEqual({ ended: true, destroyedEarly: false });
      expect(await filesUnder(dir)).toEqual([]);
    } finally {
      spy.mockRestore();
    }
  });

  it('never keeps a copy cut short: a short write is written again, and a stored blob of the wrong size is replaced', async () => {
    const data = Buffer.alloc(3000, 9);
    const open = fs.open.bind(fs);
    const spy = jest.spyOn(fs, 'open').mockImplementation(async (...args: Parameters<typeof fs.open>) => {
      const handle = await open(...args);
      const write = handle.write.bind(handle) as (b: Buffer, o: number, l: number) => Promise<{ bytesWritten: number }>;
      handle.write = (async (buf: Buffer, offset = 0, length = buf.length - offset) => write(buf, offset, Math.min(length, 700))) as typeof handle.write;
      return handle;
    });
    let blobId: string;
    try {
      ({ blobId } = await blobs.put(Readable.from([data]), 10_000));
    } finally {
      spy.mockRestore();
    }
    expect(await blobs.read(blobId)).toEqual(data);
    // A truncated file under the right name (left by an earlier version on a full disk) is replaced.
    const file = (await filesUnder(dir)).find((f) => f.endsWith(blobId))!;
    await fs.truncate(file, 1000);
    expect((await blobs.put(data, 10_000)).created).toBe(true);
    expect(await blobs.read(blobId)).toEqual(data);
  });

  it('sweeps temp files left by a crashed writer, but not live ones or blobs', async () => {
    expect(await blobs.sweepTemp(1000)).toBe(0); // no tmp dir yet
    const { blobId } = await blobs.put(Buffer.from('kept'), 10);
    const tmp = path.join(dir, 'blobs', 'tmp');
    await fs.writeFile(path.join(tmp, 'dead.part'), 'half a photo');
    await fs.writeFile(path.join(tmp, 'live.part'), 'an upload in progress');
    const hourAgo = new Date(Date.now() - 3_600_000);
    await fs.utimes(path.join(tmp, 'dead.part'), hourAgo, hourAgo);
    expect(await blobs.sweepTemp(600_000)).toBe(1);
    expect((await filesUnder(dir)).sort()).toEqual([path.join(dir, 'blobs', blobId.slice(0, 2), blobId), path.join(tmp, 'live.part')].sort());
  });

  it('answers BLOB_NOT_FOUND for unknown and malformed ids; delete is idempotent', async () => {
    const { blobId } = await blobs.put(Buffer.from('x'), 10);
    await blobs.delete(blobId);
    await blobs.delete(blobId);
    expect(await blobs.has(blobId)).toBe(false);
    await expect(blobs.read(blobId)).rejects.toMatchObject({ code: 'BLOB_NOT_FOUND', status: 404 });
    await expect(blobs.read('../../etc/passwd')).rejects.toMatchObject({ code: 'BLOB_NOT_FOUND' });
    expect(await blobs.has('../x')).toBe(false);
  });
});
