import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import type { LookupAddress } from 'node:dns';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { isPublicAddress, safeLookup, type Resolver } from './address-policy';
import { BlobStore } from './blob-store';
import { PhotoFetcher, type PhotoFetcherOptions } from './photo-fetcher';
import { PipelineError } from './pipeline-error';

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return err instanceof PipelineError ? err.code : `not a PipelineError: ${String(err)}`;
  }
  return undefined;
}

describe('isPublicAddress', () => {
  it.each([
    ['127.0.0.1', false],
    ['127.255.0.9', false],
    ['10.1.2.3', false],
    ['172.16.0.1', false],
    ['172.31.255.255', false],
    ['172.32.0.1', true],
    ['192.168.1.1', false],
    ['169.254.169.254', false],
    ['100.64.0.1', false],
    ['100.127.255.254', false],
    ['0.0.0.0', false],
    ['224.0.0.1', false],
    ['255.255.255.255', false],
    ['198.18.0.1', false],
    ['::', false],
    ['::1', false],
    ['fe80::1', false],
    ['fe80::1%eth0', false],
    ['fc00::1', false],
    ['fd00:ec2::254', false],
    ['ff02::1', false],
    ['::ffff:127.0.0.1', false],
    ['::ffff:7f00:1', false],
    ['::ffff:10.0.0.1', false],
    ['::ffff:8.8.8.8', true],
    ['64:ff9b::a9fe:a9fe', false], // NAT64 of 169.254.169.254
    ['2002:0a00:0001::1', false], // 6to4 of 10.0.0.1
    ['2001:db8::1', false],
    ['8.8.8.8', true],
    ['1.1.1.1', true],
    ['2606:4700::1', true],
    ['2a00:1450:4001:80b::200e', true],
    ['not an ip', false],
    ['', false],
  ])('%s → %s', (ip, expected) => {
    expect(isPublicAddress(ip)).toBe(expected);
  });
});

describe('safeLookup', () => {
  const resolver =
    (answers: Record<string, string[]>): Resolver =>
    (host, _opts, cb) => {
      const list = answers[host];
      if (!list) return cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }), []);
      cb(
        null,
        list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
      );
    };
  const resolve = resolver({ 'public.test': ['8.8.8.8'], 'private.test': ['10.0.0.7'], 'mixed.test': ['127.0.0.1', '2606:4700::1'] });
  const lookup = (allowPrivate: boolean, host: string, all: boolean) =>
    new Promise<{ err: NodeJS.ErrnoException | null; address: string | LookupAddress[]; family?: number }>((done) =>
      safeLookup(allowPrivate, { resolve })(host, { all }, (err, address, family) => done({ err, address, family })),
    );

  it('passes public answers through, in both calling styles', async () => {
    expect(await lookup(false, 'public.test', false)).toEqual({ err: null, address: '8.8.8.8', family: 4 });
    expect(await lookup(false, 'public.test', true)).toEqual({ err: null, address: [{ address: '8.8.8.8', family: 4 }], family: undefined });
  });

  it('refuses names that only resolve to private addresses', async () => {
    const { err } = await lookup(false, 'private.test', true);
    expect(err).toBeInstanceOf(PipelineError);
    expect(err).toMatchObject({ code: 'URL_NOT_ALLOWED' });
    expect((await lookup(true, 'private.test', false)).address).toBe('10.0.0.7');
  });

  it('drops private answers of a mixed name (DNS rebinding)', async () => {
    expect((await lookup(false, 'mixed.test', true)).address).toEqual([{ address: '2606:4700::1', family: 6 }]);
  });

  it('passes resolver errors on', async () => {
    expect((await lookup(false, 'missing.test', false)).err).toMatchObject({ code: 'ENOTFOUND' });
  });
});

describe('PhotoFetcher', () => {
  let dir: string;
  let root: string;
  let blobs: BlobStore;
  const fetcher = (opts: Partial<PhotoFetcherOptions> = {}) =>
    new PhotoFetcher({ blobs, pathRoots: [root], allowPrivateUrls: false, maxBytes: 1000, timeoutMs: 2000, ...opts });

  beforeAll(async () => {
    dir = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'facepipe-fetch-')));
    root = path.join(dir, 'root');
    await fs.mkdir(path.join(root, 'sub'), { recursive: true });
    await fs.writeFile(path.join(root, 'sub', 'a.jpg'), 'photo-a');
    await fs.writeFile(path.join(root, 'big.jpg'), Buffer.alloc(1001));
    await fs.writeFile(path.join(dir, 'secret.txt'), 'secret');
    await fs.symlink(path.join(dir, 'secret.txt'), path.join(root, 'escape.jpg'));
    await fs.symlink(path.join(dir), path.join(root, 'updir'));
    await fs.symlink(path.join(root, 'sub', 'a.jpg'), path.join(root, 'alias.jpg'));
    blobs = new BlobStore(path.join(dir, 'blobs'));
  });

  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  describe('blob sources', () => {
    it('reads a stored blob, BLOB_NOT_FOUND otherwise', async () => {
      const { blobId } = await blobs.put(Buffer.from('blob bytes'), 100);
      expect((await fetcher().fetch({ kind: 'blob', blobId })).toString()).toBe('blob bytes');
      expect(await codeOf(fetcher().fetch({ kind: 'blob', blobId: 'f'.repeat(64) }))).toBe('BLOB_NOT_FOUND');
    });
  });

  describe('path sources', () => {
    it('reads a file inside a root, also through a symlink that stays inside', async () => {
      expect((await fetcher().fetch({ kind: 'path', path: path.join(root, 'sub', 'a.jpg') })).toString()).toBe('photo-a');
      expect((await fetcher().fetch({ kind: 'path', path: path.join(root, 'alias.jpg') })).toString()).toBe('photo-a');
      expect((await fetcher().fetch({ kind: 'path', path: `${root}/sub/../sub/a.jpg` })).toString()).toBe('photo-a');
    });

    it.each([
      ['../ traversal', () => `${root}/../secret.txt`],
      ['deep ../ traversal', () => `${root}/sub/../../secret.txt`],
      ['an absolute path outside', () => path.join(dir, 'secret.txt')],
      ['/etc/passwd', () => '/etc/passwd'],
      ['a sibling with the root as name prefix', () => `${root}-other/x.jpg`],
      ['a symlink out of the root', () => path.join(root, 'escape.jpg')],
      ['a path through a symlinked directory out of the root', () => path.join(root, 'updir', 'secret.txt')],
      ['a relative path', () => 'sub/a.jpg'],
    ])('refuses %s with PATH_NOT_ALLOWED', async (_what, p) => {
      expect(await codeOf(fetcher().fetch({ kind: 'path', path: p() }))).toBe('PATH_NOT_ALLOWED');
    });

    it("keeps an API key's source inside the key's own roots, by the path as written and by its real path", async () => {
      // Two tenants' folders under one root; tenant A's holds links into B's and out of the root.
      const a = path.join(root, 'tenant-a'), b = path.join(root, 'tenant-b');
      await fs.mkdir(a, { recursive: true });
      await fs.mkdir(b, { recursive: true });
      await fs.writeFile(path.join(a, 'own.jpg'), 'photo-of-a');
      await fs.writeFile(path.join(b, 'private.jpg'), 'photo-of-b');
      await fs.symlink(path.join(b, 'private.jpg'), path.join(a, 'link-to-b.jpg'));
      await fs.symlink(dir, path.join(root, 'tenant-c')); // a key root that is itself a link out of the root
      const ofA = (p: string) => fetcher().fetch({ kind: 'path', path: p, roots: [a] });
      expect((await ofA(path.join(a, 'own.jpg'))).toString()).toBe('photo-of-a');
      expect(await codeOf(ofA(path.join(b, 'private.jpg')))).toBe('PATH_NOT_ALLOWED');
      expect(await codeOf(ofA(`${a}/../tenant-b/private.jpg`))).toBe('PATH_NOT_ALLOWED');
      expect(await codeOf(ofA(path.join(a, 'link-to-b.jpg')))).toBe('PATH_NOT_ALLOWED');
      // Without the key's roots (the admin key) the same link is inside the configured root: read.
      expect((await fetcher().fetch({ kind: 'path', path: path.join(a, 'link-to-b.jpg') })).toString()).toBe('photo-of-b');
      expect(await codeOf(fetcher().fetch({ kind: 'path', path: path.join(root, 'tenant-c', 'secret.txt'), roots: [path.join(root, 'tenant-c')] }))).toBe('PATH_NOT_ALLOWED');
      expect(await codeOf(fetcher().fetch({ kind: 'path', path: path.join(a, 'own.jpg'), roots: [] }))).toBe('PATH_NOT_ALLOWED');
      // A key root swapped for a link (its tenant may write in the folder above it), or issued as one: it allows nothing.
      const swapped = path.join(a, 'photos');
      await fs.symlink(b, swapped);
      expect(await codeOf(fetcher().fetch({ kind: 'path', path: path.join(swapped, 'private.jpg'), roots: [swapped] }))).toBe('PATH_NOT_ALLOWED');
      // A real folder at the same place works.
      await fs.rm(swapped);
      await fs.mkdir(swapped);
      await fs.writeFile(path.join(swapped, 'mine.jpg'), 'mine');
      expect((await fetcher().fetch({ kind: 'path', path: path.join(swapped, 'mine.jpg'), roots: [swapped] })).toString()).toBe('mine');
    });

    it('answers the same for a link out of the roots whether its target exists or not (no existence oracle)', async () => {
      const c = path.join(root, 'tenant-oracle');
      await fs.mkdir(c, { recursive: true });
      await fs.writeFile(path.join(root, 'other.jpg'), 'other');
      const links: [string, string][] = [
        ['to-etc-passwd.jpg', '/etc/passwd'],
        ['to-nothing-outside.jpg', '/etc/surely-not-there.jpg'],
        ['to-other-tenant.jpg', path.join(root, 'other.jpg')],
        ['to-nothing-there.jpg', path.join(root, 'not-there.jpg')],
      ];
      for (const [name, target] of links) await fs.symlink(target, path.join(c, name));
      await fs.symlink('/etc', path.join(c, 'etcdir'));
      const answers = [];
      for (const [name] of links) answers.push(await fetcher().fetch({ kind: 'path', path: path.join(c, name), roots: [c] }).then(() => 'read', (e: PipelineError) => `${e.code}: ${e.message}`));
      answers.push(await fetcher().fetch({ kind: 'path', path: path.join(c, 'etcdir', 'surely-not-there'), roots: [c] }).then(() => 'read', (e: PipelineError) => `${e.code}: ${e.message}`));
      expect(new Set(answers)).toEqual(new Set(['PATH_NOT_ALLOWED: the path leads outside the folders this caller may read']));
      // A file that is simply missing inside the caller's folder is still PATH_NOT_FOUND.
      expect(await codeOf(fetcher().fetch({ kind: 'path', path: path.join(c, 'missing.jpg'), roots: [c] }))).toBe('PATH_NOT_FOUND');
      expect(await codeOf(fetcher().fetch({ kind: 'path', path: path.join(c, 'missing', 'deeper.jpg'), roots: [c] }))).toBe('PATH_NOT_FOUND');
    });

    it('refuses every path when no root is configured', async () => {
      expect(await codeOf(fetcher({ pathRoots: [] }).fetch({ kind: 'path', path: path.join(root, 'sub', 'a.jpg') }))).toBe('PATH_NOT_ALLOWED');
    });

    it('answers PATH_NOT_FOUND for a missing file or a directory', async () => {
      expect(await codeOf(fetcher().fetch({ kind: 'path', path: path.join(root, 'missing.jpg') }))).toBe('PATH_NOT_FOUND');
      expect(await codeOf(fetcher().fetch({ kind: 'path', path: path.join(root, 'sub') }))).toBe('PATH_NOT_FOUND');
      expect(await codeOf(fetcher().fetch({ kind: 'path', path: `${path.join(root, 'sub', 'a.jpg')}/` }))).toBe('PATH_NOT_FOUND'); // a file named as a folder
    });

    it('answers PATH_NOT_FOUND for a named pipe at once, instead of waiting for a writer forever', async () => {
      const fifo = path.join(root, 'pipe.jpg');
      execFileSync('mkfifo', [fifo]);
      const started = Date.now();
      expect(await codeOf(fetcher().fetch({ kind: 'path', path: fifo }))).toBe('PATH_NOT_FOUND');
      expect(Date.now() - started).toBeLessThan(1000);
    }, 5000);

    it('answers PATH_NOT_FOUND for a file name longer than the file system allows', async () => {
      expect(await codeOf(fetcher().fetch({ kind: 'path', path: path.join(root, `${'n'.repeat(300)}.jpg`) }))).toBe('PATH_NOT_FOUND');
    });

    it('answers PHOTO_TOO_LARGE past maxBytes', async () => {
      expect(await codeOf(fetcher().fetch({ kind: 'path', path: path.join(root, 'big.jpg') }))).toBe('PHOTO_TOO_LARGE');
    });
  });

  describe('URL sources', () => {
    let server: http.Server;
    let port: number;
    let requests: string[];

    beforeAll(async () => {
      server = http.createServer((req, res) => {
        requests.push(req.url ?? '');
        const u = new URL(req.url ?? '/', 'http://x');
        switch (u.pathname) {
          case '/photo':
            return res.end('remote photo');
          case '/redirect': {
            // /redirect?n=2&to=URL: n more hops, then `to` (default: /photo)
            const n = Number(u.searchParams.get('n') ?? 1);
            const to = u.searchParams.get('to') ?? '/photo';
            const next = n > 1 ? `/redirect?n=${n - 1}&to=${encodeURIComponent(to)}` : to;
            res.writeHead(302, { location: next });
            return res.end();
          }
          case '/big-declared':
            res.writeHead(200, { 'content-length': '5000' });
            return res.end(Buffer.alloc(5000));
          case '/big-chunked': {
            // no content-length: only counting the streamed bytes catches it
            res.writeHead(200, { 'content-type': 'image/jpeg' });
            let sent = 0;
            const pump = () => {
              while (sent < 100_000 && !res.destroyed) {
                sent += 500;
                if (!res.write(Buffer.alloc(500))) return res.once('drain', pump);
              }
              res.end();
            };
            return pump();
          }
          case '/gzip':
            res.writeHead(200, { 'content-encoding': 'gzip' });
            return res.end(zlib.gzipSync('remote photo'));
          case '/gzip-bomb': // 300 bytes on the wire, 1 MB decoded
            res.writeHead(200, { 'content-encoding': 'gzip' });
            return res.end(zlib.gzipSync(Buffer.alloc(1_000_000)));
          case '/raw-deflate': // what several servers send as "deflate"
            res.writeHead(200, { 'content-encoding': 'deflate' });
            return res.end(zlib.deflateRawSync('remote photo'));
          case '/zlib-deflate':
            res.writeHead(200, { 'content-encoding': 'deflate' });
            return res.end(zlib.deflateSync('remote photo'));
          case '/stacked': // gzip applied first, then br: br is undone first
            res.writeHead(200, { 'content-encoding': 'gzip, identity, br' });
            return res.end(zlib.brotliCompressSync(zlib.gzipSync('remote photo')));
          case '/raw-deflate-bomb':
            res.writeHead(200, { 'content-encoding': 'deflate' });
            return res.end(zlib.deflateRawSync(Buffer.alloc(1_000_000)));
          case '/bad-deflate':
            res.writeHead(200, { 'content-encoding': 'deflate' });
            return res.end(Buffer.from('not deflate at all'));
          case '/too-many-codings':
            res.writeHead(200, { 'content-encoding': 'gzip, gzip, gzip, gzip' });
            return res.end('whatever');
          case '/empty-encoding':
            res.writeHead(200, { 'content-encoding': '' });
            return res.end('remote photo');
          case '/to-port-0':
            res.writeHead(302, { location: 'http://127.0.0.1:0/photo' });
            return res.end();
          case '/zstd':
            res.writeHead(200, { 'content-encoding': 'zstd' });
            return res.end('whatever');
          case '/stall':
            res.writeHead(200);
            return res.write('partial'); // and never ends
          case '/cut':
            // promises 800 bytes, sends 400 and hangs up
            res.writeHead(200, { 'content-length': '800' });
            res.write(Buffer.alloc(400, 7));
            return setTimeout(() => res.socket?.destroy(), 50);
          case '/big-slow': {
            // 900 bytes, one 100-byte chunk at a time
            res.writeHead(200);
            let sent = 0;
            const tick = () => {
              if (res.destroyed) return;
              if (sent === 900) return res.end();
              sent += 100;
              res.write(Buffer.alloc(100, sent / 100));
              setTimeout(tick, 5);
            };
            return tick();
          }
          case '/hang':
            return; // never answers
          case '/missing':
            res.writeHead(404);
            return res.end('nope');
          default:
            res.writeHead(500);
            return res.end();
        }
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });

    beforeEach(() => {
      requests = [];
    });

    afterAll(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    const url = (p: string, host = '127.0.0.1') => `http://${host}:${port}${p}`;
    const open = () => fetcher({ allowPrivateUrls: true });

    it('refuses loopback by default, by IP literal and by name, without sending a request', async () => {
      for (const u of [url('/photo'), url('/photo', 'localhost'), url('/photo', '[::ffff:127.0.0.1]'), url('/photo', '[::1]'), 'http://2130706433:1/', 'https://localhost:1/x']) {
        expect(await codeOf(fetcher().fetch({ kind: 'url', url: u }))).toBe('URL_NOT_ALLOWED');
      }
      expect(requests).toEqual([]);
    });

    it('fetches private addresses when allowPrivateUrls is set', async () => {
      expect((await open().fetch({ kind: 'url', url: url('/photo') })).toString()).toBe('remote photo');
      expect((await open().fetch({ kind: 'url', url: url('/photo', 'localhost') })).toString()).toBe('remote photo');
    });

    it('refuses schemes other than http and https', async () => {
      for (const u of ['file:///etc/passwd', 'ftp://127.0.0.1/x', 'gopher://127.0.0.1:70/']) {
        expect(await codeOf(open().fetch({ kind: 'url', url: u }))).toBe('URL_NOT_ALLOWED');
      }
    });

    describe('with 127.0.0.1 standing in for a public address', () => {
      // A real public address cannot be used in tests; 127.0.0.1 plays that part, everything else
      // keeps the real rules, and names resolve through a stub resolver (no DNS traffic).
      const resolve: Resolver = (host, _o, cb) => {
        const table: Record<string, string> = { 'photos.test': '127.0.0.1', 'internal.test': '10.0.0.7', 'meta.test': '169.254.169.254' };
        if (table[host]) return cb(null, [{ address: table[host], family: 4 }]);
        cb(Object.assign(new Error(`ENOTFOUND ${host}`), { code: 'ENOTFOUND' }), []);
      };
      const guarded = (opts: Partial<PhotoFetcherOptions> = {}) => fetcher({ isAllowedAddress: (ip) => ip === '127.0.0.1', resolve, ...opts });

      it('resolves names through the guarded lookup', async () => {
        expect((await guarded().fetch({ kind: 'url', url: url('/photo', 'photos.test') })).toString()).toBe('remote photo');
        expect(await codeOf(guarded().fetch({ kind: 'url', url: url('/photo', 'internal.test') }))).toBe('URL_NOT_ALLOWED');
        expect(await codeOf(guarded().fetch({ kind: 'url', url: url('/photo', 'nowhere.test') }))).toBe('URL_FETCH_FAILED');
        // https sockets go through the same lookup hook
        expect(await codeOf(guarded().fetch({ kind: 'url', url: 'https://internal.test/x.jpg' }))).toBe('URL_NOT_ALLOWED');
      });

      it('follows up to 3 redirects', async () => {
        expect((await guarded().fetch({ kind: 'url', url: url('/redirect?n=3') })).toString()).toBe('remote photo');
        expect(requests).toHaveLength(4);
        expect(await codeOf(guarded().fetch({ kind: 'url', url: url('/redirect?n=4') }))).toBe('URL_FETCH_FAILED');
      });

      it.each([
        ['a loopback IP', () => url('/photo', '127.0.0.2')],
        ['a name that resolves to a private address', () => url('/photo', 'internal.test')],
        ['the metadata service', () => 'http://meta.test/latest/meta-data/'],
        ['an IPv4-mapped IPv6 loopback', () => url('/photo', '[::ffff:127.0.0.2]')],
        ['a file URL', () => 'file:///etc/passwd'],
      ])('refuses a redirect chain that ends at %s', async (_what, target) => {
        const start = url(`/redirect?n=2&to=${encodeURIComponent(target())}`);
        expect(await codeOf(guarded().fetch({ kind: 'url', url: start }))).toBe('URL_NOT_ALLOWED');
        expect(requests).toHaveLength(2); // the two hops on the allowed address, nothing after
      });
    });

    it('enforces the size limit from content-length and while streaming', async () => {
      expect(await codeOf(open().fetch({ kind: 'url', url: url('/big-declared') }))).toBe('PHOTO_TOO_LARGE');
      expect(await codeOf(open().fetch({ kind: 'url', url: url('/big-chunked') }))).toBe('PHOTO_TOO_LARGE');
    });

    it('decodes a photo served with a content-encoding, counting the decoded bytes against the limit', async () => {
      expect((await open().fetch({ kind: 'url', url: url('/gzip') })).toString()).toBe('remote photo');
      expect(await codeOf(open().fetch({ kind: 'url', url: url('/gzip-bomb') }))).toBe('PHOTO_TOO_LARGE');
      await expect(open().fetch({ kind: 'url', url: url('/zstd') })).rejects.toMatchObject({ code: 'URL_FETCH_FAILED', message: expect.stringContaining('"zstd"') });
      expect((await open().fetch({ kind: 'url', url: url('/empty-encoding') })).toString()).toBe('remote photo'); // an empty list: none
    });

    it('decodes deflate with or without its zlib header, and stacked codings in reverse order', async () => {
      for (const p of ['/raw-deflate', '/zlib-deflate', '/stacked']) expect((await open().fetch({ kind: 'url', url: url(p) })).toString()).toBe('remote photo');
      expect((await open().fetchToBlob({ kind: 'url', url: url('/raw-deflate') })).sha256).toBe(crypto.createHash('sha256').update('remote photo').digest('hex'));
      expect(await codeOf(open().fetch({ kind: 'url', url: url('/raw-deflate-bomb') }))).toBe('PHOTO_TOO_LARGE');
      expect(await codeOf(open().fetch({ kind: 'url', url: url('/bad-deflate') }))).toBe('URL_FETCH_FAILED');
      await expect(open().fetch({ kind: 'url', url: url('/too-many-codings') })).rejects.toMatchObject({ code: 'URL_FETCH_FAILED', message: expect.stringContaining('"gzip, gzip, gzip, gzip"') });
    });

    it('refuses port 0, also behind a redirect (Node would connect to port 80)', async () => {
      expect(await codeOf(open().fetch({ kind: 'url', url: url('/to-port-0') }))).toBe('URL_NOT_ALLOWED');
      expect(await codeOf(open().fetch({ kind: 'url', url: 'http://127.0.0.1:0/photo' }))).toBe('URL_NOT_ALLOWED');
    });

    it('fails with URL_FETCH_FAILED on non-2xx answers and unreachable hosts', async () => {
      expect(await codeOf(open().fetch({ kind: 'url', url: url('/missing') }))).toBe('URL_FETCH_FAILED');
      const closed = await new Promise<number>((resolve) => {
        const s = http.createServer().listen(0, '127.0.0.1', () => {
          const p = (s.address() as AddressInfo).port;
          s.close(() => resolve(p));
        });
      });
      expect(await codeOf(open().fetch({ kind: 'url', url: `http://127.0.0.1:${closed}/` }))).toBe('URL_FETCH_FAILED');
    });

    it.each(['/hang', '/stall'])('times out on %s with URL_FETCH_FAILED', async (p) => {
      const started = Date.now();
      const err = await fetcher({ allowPrivateUrls: true, timeoutMs: 300 })
        .fetch({ kind: 'url', url: url(p) })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'URL_FETCH_FAILED', status: 502 });
      expect((err as Error).message).toMatch(/within 300 ms/);
      expect(Date.now() - started).toBeLessThan(2000);
    }, 5000);

    describe('streamed into a private blob (fetchToBlob)', () => {
      const tmpFiles = async () => (await fs.readdir(path.join(dir, 'blobs', 'tmp')).catch(() => [])).length;

      it('stores the bytes as they arrive under a random id, with their hash', async () => {
        const { blobId, sha256 } = await open().fetchToBlob({ kind: 'url', url: url('/big-slow') });
        const bytes = await blobs.read(blobId);
        expect(bytes).toHaveLength(900);
        expect(bytes[899]).toBe(9);
        expect(sha256).toBe(crypto.createHash('sha256').update(bytes).digest('hex'));
        expect(blobId).not.toBe(sha256);
        await blobs.delete(blobId);
      });

      it.each([
        ['/big-chunked', 'PHOTO_TOO_LARGE'],
        ['/gzip-bomb', 'PHOTO_TOO_LARGE'],
        ['/cut', 'URL_FETCH_FAILED'],
        ['/missing', 'URL_FETCH_FAILED'],
        ['/redirect?n=4', 'URL_FETCH_FAILED'],
      ])('fails %s with %s and keeps nothing of it', async (p, code) => {
        expect(await codeOf(open().fetchToBlob({ kind: 'url', url: url(p) }))).toBe(code);
        expect(await tmpFiles()).toBe(0);
      });

      it('times out a body that stalls, and refuses private addresses before any request', async () => {
        const err = await fetcher({ allowPrivateUrls: true, timeoutMs: 300 }).fetchToBlob({ kind: 'url', url: url('/stall') }).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'URL_FETCH_FAILED', message: expect.stringMatching(/within 300 ms/) });
        expect(await tmpFiles()).toBe(0);
        expect(await codeOf(fetcher().fetchToBlob({ kind: 'url', url: url('/photo') }))).toBe('URL_NOT_ALLOWED');
        expect(requests).toEqual(['/stall']);
      });
    });

    it("takes a call's own time limit instead of the configured one (a waiting caller's time left)", async () => {
      const started = Date.now();
      const err = await fetcher({ allowPrivateUrls: true, timeoutMs: 60_000 })
        .fetch({ kind: 'url', url: url('/hang') }, { timeoutMs: 200 })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'URL_FETCH_FAILED' });
      expect((err as Error).message).toMatch(/within 200 ms/);
      expect(Date.now() - started).toBeLessThan(2000);
    }, 5000);
  });
});
