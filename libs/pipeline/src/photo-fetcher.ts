import type { PhotoSource } from '@facepipe/contracts';
import { constants as fsConstants, promises as fs } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import net, { type LookupFunction } from 'node:net';
import path from 'node:path';
import { PassThrough, type Readable, Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import { isPublicAddress, safeLookup, type Resolver } from './address-policy';
import type { BlobStore } from './blob-store';
import { PipelineError, errorMessage } from './pipeline-error';

export interface PhotoFetcherOptions {
  blobs: BlobStore;
  /** Absolute directories that `path` sources may read from (after resolving symlinks). */
  pathRoots: string[];
  allowPrivateUrls: boolean;
  maxBytes: number;
  /** For a URL source: the whole fetch, redirects and body included. */
  timeoutMs: number;
  /** Tests only: a stand-in for `dns.lookup`. */
  resolve?: Resolver;
  /** Tests only: a stand-in for `isPublicAddress` (ignored when allowPrivateUrls is set). */
  isAllowedAddress?: (ip: string) => boolean;
}

export const MAX_REDIRECTS = 3;
const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** A hop's answer: the photo's (decoded, size-limited) bytes as they arrive, or a redirect. */
type Hop = { body: Readable } | { location: string };

/**
 * Turns a photo reference into its bytes, refusing what a client must not be able to reach: files
 * outside the configured roots, and URLs that lead (directly, through DNS or via a redirect) to
 * loopback, private, link-local or metadata addresses — the classic SSRF targets.
 */
export class PhotoFetcher {
  private readonly lookup: LookupFunction;
  private readonly isAllowed: (ip: string) => boolean;

  constructor(private readonly opts: PhotoFetcherOptions) {
    this.isAllowed = opts.allowPrivateUrls ? () => true : (opts.isAllowedAddress ?? isPublicAddress);
    this.lookup = safeLookup(opts.allowPrivateUrls, { resolve: opts.resolve, isAllowed: this.isAllowed });
  }

  /** `timeoutMs`: for a URL, this call's limit instead of the configured one (a waiting caller's time left). */
  fetch(source: PhotoSource, opts: { timeoutMs?: number } = {}): Promise<Buffer> {
    switch (source.kind) {
      case 'blob':
        return this.opts.blobs.read(source.blobId);
      case 'path':
        return this.fetchPath(source.path, source.roots);
      case 'url':
        return this.fetchUrl(source.url, opts.timeoutMs ?? this.opts.timeoutMs);
    }
  }

  /**
   * A file under the configured roots and, when the submitting API key has its own (`keyRoots`,
   * each inside the configured ones), under one of those too, by its path as written and by its
   * real path: a symlink in a tenant's folder must not lead into another tenant's. A key root
   * counts only where it really is what it says (no link on its way from its configured root):
   * a tenant who may write in the folder above its root could otherwise swap the root for a link.
   */
  private async fetchPath(requested: string, keyRoots?: string[]): Promise<Buffer> {
    const roots = this.opts.pathRoots;
    if (roots.length === 0) throw notAllowedPath('path sources are disabled (FACEPIPE_PATH_ROOTS is empty)');
    if (!path.isAbsolute(requested)) throw notAllowedPath('a path source must be absolute');
    const resolved = await resolvedRoots(roots);
    const realRoots = resolved.map(([, real]) => real);
    const realKeyRoots = keyRoots && (await faithfulKeyRoots(keyRoots, resolved));
    // First the path as written (`..` collapsed), so nothing is learnt about files outside the
    // roots, not even whether they exist …
    const lexical = path.resolve(requested);
    if (![...roots, ...realRoots].some((root) => isInside(root, lexical))) throw notAllowedPath('the path is outside the allowed roots');
    if (keyRoots && ![...keyRoots, ...realKeyRoots!].some((root) => isInside(root, lexical))) throw notAllowedPath("the path is outside the API key's roots");
    if (requested.endsWith('/')) throw new PipelineError('PATH_NOT_FOUND', 'a path ending in "/" names a folder, not a photo');
    // … then where it really leads: a symlink inside a root must not point out of it. One message
    // for every way out, whether the file there exists or not.
    const leadsOut = () => notAllowedPath('the path leads outside the folders this caller may read');
    const allowed = (real: string) => realRoots.some((root) => isInside(root, real)) && (!realKeyRoots || realKeyRoots.some((root) => isInside(root, real)));
    let real: string;
    try {
      real = await fs.realpath(lexical);
    } catch (err) {
      if (!isMissing(err)) throw notAllowedPath('the path cannot be resolved', err);
      // Missing: say so only when what does exist of the path stays inside (a dangling link to a
      // file elsewhere would otherwise tell whether that file exists).
      if (!(await existingPartInside(lexical, allowed))) throw leadsOut();
      throw new PipelineError('PATH_NOT_FOUND', 'no such file');
    }
    if (!allowed(real)) throw leadsOut();
    let file: fs.FileHandle;
    try {
      // O_NOFOLLOW: the resolved path has no symlink left, so one appearing now is a swap.
      // O_NONBLOCK: opening a FIFO (a named pipe in a root) would otherwise wait for a writer
      // forever, holding a libuv thread, so that the worker could not even exit; the stat below
      // then refuses it. (It changes nothing for regular files.)
      file = await fs.open(real, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
    } catch (err) {
      if (isMissing(err)) throw new PipelineError('PATH_NOT_FOUND', 'no such file');
      throw notAllowedPath('the file cannot be opened', err);
    }
    try {
      const stat = await file.stat();
      if (!stat.isFile()) throw new PipelineError('PATH_NOT_FOUND', 'not a regular file');
      if (stat.size > this.opts.maxBytes) throw tooLarge(this.opts.maxBytes);
      const data = await file.readFile();
      if (data.length > this.opts.maxBytes) throw tooLarge(this.opts.maxBytes); // grew meanwhile
      return data;
    } finally {
      await file.close();
    }
  }

  /**
   * A URL source streamed into a private blob: nothing of it is held in memory (the gateway's
   * synchronous calls; twenty 50 MB photos fetched at once had taken it to 1.5 GB). Same checks,
   * limits and errors as `fetch`, plus the blob store's (a full disk).
   */
  async fetchToBlob(source: Extract<PhotoSource, { kind: 'url' }>, opts: { timeoutMs?: number } = {}): Promise<{ blobId: string; sha256: string }> {
    const body = await this.openUrl(source.url, opts.timeoutMs ?? this.opts.timeoutMs);
    try {
      const { blobId, sha256 } = await this.opts.blobs.put(body, this.opts.maxBytes, { private: true });
      return { blobId, sha256 };
    } finally {
      body.destroy(); // refused (too large, disk full) part-way: download no more
    }
  }

  private async fetchUrl(raw: string, timeoutMs: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.openUrl(raw, timeoutMs)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /** The body of the photo at `raw`, following redirects; the time limit runs until the body has ended. */
  private async openUrl(raw: string, timeoutMs: number): Promise<Readable> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      let url = parseHttpUrl(raw);
      for (let redirects = 0; ; redirects++) {
        const hop = await this.get(url, controller.signal, timeoutMs);
        if ('body' in hop) {
          if (hop.body.closed) clearTimeout(timer); // it failed already (the reader gets the error)
          else hop.body.once('close', () => clearTimeout(timer));
          return hop.body;
        }
        if (redirects === MAX_REDIRECTS) throw new PipelineError('URL_FETCH_FAILED', `more than ${MAX_REDIRECTS} redirects`);
        url = parseHttpUrl(resolveLocation(hop.location, url)); // every hop is checked again
      }
    } catch (err) {
      clearTimeout(timer);
      throw err;
    }
  }

  /** One HTTP GET: a body, a redirect, or a typed error. */
  private get(url: URL, signal: AbortSignal, timeoutMs: number): Promise<Hop> {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    // Sockets do not call `lookup` for IP literals, so those are checked here.
    if (net.isIP(host) && !this.isAllowed(host)) {
      return Promise.reject(new PipelineError('URL_NOT_ALLOWED', `${host} is a private or reserved address`));
    }
    const timedOut = () => new PipelineError('URL_FETCH_FAILED', `no complete answer within ${timeoutMs} ms`);
    const max = this.opts.maxBytes;
    return new Promise<Hop>((resolve, reject) => {
      let settled = false;
      // The photo's bytes, handed out once the answer is a 2xx: a failure after that ends it instead.
      const out = new PassThrough();
      const fail = (err: unknown) => {
        if (out.destroyed) return;
        req.destroy();
        const error = signal.aborted
          ? timedOut()
          : err instanceof PipelineError
            ? err
            : new PipelineError('URL_FETCH_FAILED', `${url.host}: ${errorMessage(err)}`, { cause: err });
        if (settled) out.destroy(error);
        else {
          settled = true;
          out.destroy();
          reject(error);
        }
      };
      const succeed = (hop: Hop) => {
        if (settled) return;
        settled = true;
        resolve(hop);
      };
      // The reader gave up (refused the size, its disk is full): stop the download.
      out.on('close', () => req.destroy());
      // A failure can come before the reader is attached (the first chunks are already over the
      // limit): the reader still gets it, as the stream's error, from its iterator.
      out.on('error', () => undefined);
      const client = url.protocol === 'https:' ? https : http;
      // agent: false — a pooled socket would skip the lookup check, and a shared agent could hand
      // this request a socket that a laxer PhotoFetcher opened.
      const req = client.request(url, {
        method: 'GET',
        agent: false,
        lookup: this.lookup,
        signal,
        headers: { 'user-agent': 'facepipe', accept: 'image/*' },
      });
      req.on('error', fail);
      req.on('response', (res: IncomingMessage) => {
        res.on('error', fail);
        const remote = res.socket?.remoteAddress;
        if (remote && !this.isAllowed(remote)) return fail(new PipelineError('URL_NOT_ALLOWED', `connected to a private address`));
        const status = res.statusCode ?? 0;
        if (REDIRECTS.has(status) && res.headers.location) {
          succeed({ location: res.headers.location });
          return req.destroy(); // a redirect's body is of no interest
        }
        if (status < 200 || status > 299) {
          return fail(new PipelineError('URL_FETCH_FAILED', `${url.host} answered HTTP ${status}`));
        }
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > max) return fail(tooLarge(max));
        // Object stores serve files uploaded compressed with their Content-Encoding, asked or not.
        // The limit counts the decoded bytes: a small gzip can hold a huge body.
        const decoders = decodersFor(res.headers['content-encoding']);
        if (typeof decoders === 'string') return fail(new PipelineError('URL_FETCH_FAILED', `${url.host} sent the photo with content-encoding "${decoders}", which cannot be decoded`));
        const body = decoders.reduce<Readable>((from, decoder) => from.pipe(decoder().on('error', fail)), res);
        let size = 0;
        body.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > max) return fail(tooLarge(max)); // stop reading: the rest is never downloaded
          if (!out.write(chunk)) {
            body.pause();
            out.once('drain', () => body.resume());
          }
        });
        body.on('end', () => out.end());
        res.on('close', () => {
          if (!res.complete) fail(new Error('connection closed before the body was complete'));
        });
        succeed({ body: out });
      });
      req.end();
    });
  }
}

type Decoder = () => Transform;

/** Content-Encodings a photo may come in: null for none, a decompressor otherwise. */
const DECODERS: Record<string, Decoder | null> = {
  identity: null,
  gzip: () => zlib.createGunzip(),
  'x-gzip': () => zlib.createGunzip(),
  deflate: () => new InflateEither(),
  br: () => zlib.createBrotliDecompress(),
};

/** At most this many stacked codings (`gzip, br`): no server applies more to a photo. */
const MAX_CODINGS = 3;

/**
 * The decompressors of a Content-Encoding header, in the order they must run: codings are listed
 * in the order they were applied (RFC 9110), so the last is undone first. An empty header, or
 * only `identity`, is none. The unknown coding's name when one cannot be decoded.
 */
function decodersFor(header: string | undefined): Decoder[] | string {
  const codings = (header ?? '').split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '' && c !== 'identity');
  if (codings.length > MAX_CODINGS) return header!.trim();
  const decoders: Decoder[] = [];
  for (const coding of codings.reverse()) {
    const decoder = DECODERS[coding];
    if (!decoder) return coding;
    decoders.push(decoder);
  }
  return decoders;
}

/**
 * `deflate` as servers really send it: zlib-wrapped, as RFC 9110 says, or raw deflate, as several
 * servers do and every browser accepts. The first two bytes tell: a zlib header names method 8
 * and is a multiple of 31.
 */
class InflateEither extends Transform {
  private inner: zlib.Inflate | zlib.InflateRaw | null = null;
  private head = Buffer.alloc(0);

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.inner) return void this.inner.write(chunk, () => done());
    this.head = Buffer.concat([this.head, chunk]);
    if (this.head.length < 2) return done();
    this.start().write(this.head, () => done());
  }

  override _flush(done: TransformCallback): void {
    const started = this.inner;
    const inner = started ?? this.start();
    inner.once('end', () => done());
    if (started) inner.end();
    else inner.end(this.head); // a body of under two bytes
  }

  private start(): zlib.Inflate | zlib.InflateRaw {
    const [cmf, flg] = this.head;
    const wrapped = this.head.length >= 2 && (cmf & 0x0f) === 8 && ((cmf << 8) | flg) % 31 === 0;
    const inner = (this.inner = wrapped ? zlib.createInflate() : zlib.createInflateRaw());
    inner.on('data', (d: Buffer) => this.push(d));
    inner.on('error', (err) => this.destroy(err));
    return inner;
  }
}

/** Only http and https: `file:`, `ftp:`, `gopher:` … are refused whatever the address. */
function parseHttpUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new PipelineError('URL_NOT_ALLOWED', 'not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new PipelineError('URL_NOT_ALLOWED', `scheme ${url.protocol} is not allowed`);
  // Port 0 is no port: Node would connect to the scheme's default one instead (a redirect may name it).
  if (url.port === '0') throw new PipelineError('URL_NOT_ALLOWED', 'port 0 is not a port');
  return url;
}

function resolveLocation(location: string, base: URL): string {
  try {
    return new URL(location, base).toString();
  } catch {
    throw new PipelineError('URL_FETCH_FAILED', `${base.host} redirected to an invalid URL`);
  }
}

/** `child` is `root` itself or below it (`root/../x` and `root-other/x` are not). */
function isInside(root: string, child: string): boolean {
  const rel = path.relative(root, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/** No such file can exist there: missing, under a non-directory, or a name too long to exist. */
function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG';
}

function notAllowedPath(message: string, cause?: unknown): PipelineError {
  return new PipelineError('PATH_NOT_ALLOWED', message, { cause });
}

function tooLarge(maxBytes: number): PipelineError {
  return new PipelineError('PHOTO_TOO_LARGE', `photo is larger than ${maxBytes} bytes`);
}

/** Each configured root that exists, with its real path (a missing root allows nothing). */
async function resolvedRoots(roots: string[]): Promise<[root: string, real: string][]> {
  const reals = await Promise.all(roots.map((r) => fs.realpath(r).catch(() => null)));
  return roots.flatMap((root, i): [string, string][] => (reals[i] === null ? [] : [[root, reals[i]]]));
}

/**
 * The key roots that are where they say: the real path of each is its configured root's real path
 * joined with the same relative path (no link on the way). The others allow nothing.
 */
async function faithfulKeyRoots(keyRoots: string[], roots: [root: string, real: string][]): Promise<string[]> {
  const out: string[] = [];
  for (const keyRoot of keyRoots) {
    const real = await fs.realpath(keyRoot).catch(() => null);
    if (real !== null && roots.some(([root, realRoot]) => isInside(root, keyRoot) && real === path.join(realRoot, path.relative(root, keyRoot)))) out.push(real);
  }
  return out;
}

/**
 * For a path that does not resolve: whether its deepest part that exists resolves to where
 * `allowed` says. A link to nothing does not resolve at all: it leads nowhere the caller may
 * know of.
 */
async function existingPartInside(lexical: string, allowed: (real: string) => boolean): Promise<boolean> {
  for (let p = lexical; ; p = path.dirname(p)) {
    if ((await fs.lstat(p).catch(() => null)) !== null) {
      const real = await fs.realpath(p).catch(() => null);
      return real !== null && allowed(real);
    }
    if (path.dirname(p) === p) return false;
  }
}
