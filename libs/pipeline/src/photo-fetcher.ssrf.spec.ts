/**
 * SSRF guards of URL sources (issue 6, "bad input"): loopback, private, link-local and metadata
 * addresses in every spelling, behind DNS names and redirects, and DNS rebinding. The check must
 * be made on the address the socket actually connects to, so these tests run real sockets.
 *
 * No test can use a real public address (no internet), so one loopback address, 127.0.0.1, plays
 * the public server through the `isAllowedAddress` seam; every other address keeps the real rule.
 * A second server listens on 127.0.0.2 at the same port: the "private" target. Any request it
 * receives is an SSRF that got through.
 */
import type { LookupAddress } from 'node:dns';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { isPublicAddress, type Resolver } from './address-policy';
import { BlobStore } from './blob-store';
import { PhotoFetcher, type PhotoFetcherOptions } from './photo-fetcher';
import { PipelineError } from './pipeline-error';

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return err instanceof PipelineError ? err.code : `not a PipelineError: ${String(err)}`;
  }
  return 'resolved';
}

describe('isPublicAddress: the forms named in the issue', () => {
  it.each([
    '::1',
    '0:0:0:0:0:0:0:1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:0:127.0.0.1', // IPv4-translated
    '::127.0.0.1', // IPv4-compatible (deprecated)
    'fe80::',
    'fe80::1',
    'febf::1',
    'fc00::',
    'fc00::1',
    'fdff:ffff::1',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    '64:ff9b::10.0.0.1', // NAT64 of private v4
    '64:ff9b::a00:1',
    '64:ff9b::127.0.0.1',
    '64:ff9b::169.254.169.254',
    '64:ff9b:1::a00:1', // the local-use NAT64 prefix: outside 2000::/3, refused
    '2002:c0a8:0101::1', // 6to4 of 192.168.1.1
    '2002:7f00:1::1', // 6to4 of 127.0.0.1
    '2001:0::1', // Teredo
    '::',
    'ff02::1',
    '169.254.169.254', // AWS, GCP, Azure metadata
    '169.254.170.2', // ECS task metadata
    '100.100.100.200', // Alibaba metadata (CGNAT range)
    'fd00:ec2::254', // AWS IPv6 metadata
    '0.0.0.0',
    '127.0.0.2',
  ])('%s is not public', (ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });

  it.each(['8.8.8.8', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1', '2606:4700::1'])('%s is public', (ip) => {
    expect(isPublicAddress(ip)).toBe(true);
  });

  // The URL parser turns the numeric tricks into a dotted quad before any check sees them.
  it.each([
    ['decimal', 'http://2130706433/'],
    ['hex', 'http://0x7f000001/'],
    ['octal', 'http://0177.0.0.1/'],
    ['short', 'http://127.1/'],
    ['mixed short hex', 'http://0x7f.1/'],
    ['octal whole', 'http://017700000001/'],
    ['trailing dot', 'http://127.0.0.1./'],
    ['percent-encoded dot', 'http://127.0.0.1%2e/'],
    ['fullwidth digits', 'http://１２７.０.０.１/'],
    ['zero', 'http://0/'],
  ])('%s IPv4 (%s) is parsed to a non-public address', (_what, url) => {
    const host = new URL(url).hostname;
    expect(host).toMatch(/^(127\.0\.0\.1|0\.0\.0\.0)$/);
    expect(isPublicAddress(host)).toBe(false);
  });
});

describe('PhotoFetcher: SSRF', () => {
  let dir: string;
  let blobs: BlobStore;
  let port: number;
  let publicServer: http.Server;
  let privateServer: http.Server;
  /** Paths requested from 127.0.0.1 (the stand-in public server) and from 127.0.0.2 (private). */
  let publicHits: string[];
  let privateHits: string[];

  const listen = (server: http.Server, host: string, p: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(p, host, () => resolve());
    });

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'facepipe-ssrf-'));
    blobs = new BlobStore(path.join(dir, 'blobs'));
    publicServer = http.createServer((req, res) => {
      publicHits.push(req.url ?? '');
      const u = new URL(req.url ?? '/', 'http://x');
      if (u.pathname === '/redirect') {
        res.writeHead(302, { location: u.searchParams.get('to') ?? '/photo' });
        return res.end();
      }
      res.end('public photo');
    });
    privateServer = http.createServer((req, res) => {
      privateHits.push(req.url ?? '');
      res.end('private secret');
    });
    await listen(publicServer, '127.0.0.1', 0);
    port = (publicServer.address() as AddressInfo).port;
    await listen(privateServer, '127.0.0.2', port);
  });

  beforeEach(() => {
    publicHits = [];
    privateHits = [];
  });

  afterAll(async () => {
    for (const s of [publicServer, privateServer]) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
    await fs.rm(dir, { recursive: true, force: true });
  });

  const answer = (...addresses: string[]): LookupAddress[] => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  /** A resolver that gives the n-th call `answers[min(n, last)]` and counts its calls. */
  function resolverOf(...answers: string[][]): Resolver & { calls: number } {
    const r = ((_host, _opts, cb) => {
      const list = answers[Math.min(r.calls, answers.length - 1)];
      r.calls++;
      cb(null, answer(...list));
    }) as Resolver & { calls: number };
    r.calls = 0;
    return r;
  }
  const fetcher = (opts: Partial<PhotoFetcherOptions> = {}) =>
    new PhotoFetcher({
      blobs,
      pathRoots: [],
      allowPrivateUrls: false,
      maxBytes: 1 << 20,
      timeoutMs: 3000,
      isAllowedAddress: (ip) => ip === '127.0.0.1' || ip === '127.0.0.3', // the stand-ins for public addresses
      ...opts,
    });
  const get = (f: PhotoFetcher, url: string) => f.fetch({ kind: 'url', url });

  describe('refused by default (the real policy, no stand-in)', () => {
    const strict = () => fetcher({ isAllowedAddress: undefined });
    it.each([
      ['loopback', () => `http://127.0.0.1:${port}/photo`],
      ['the private server', () => `http://127.0.0.2:${port}/photo`],
      ['localhost', () => `http://localhost:${port}/photo`],
      ['::1', () => `http://[::1]:${port}/photo`],
      ['::ffff:127.0.0.1', () => `http://[::ffff:127.0.0.1]:${port}/photo`],
      ['::ffff:169.254.169.254', () => `http://[::ffff:169.254.169.254]:${port}/latest/meta-data/`],
      ['fe80::1', () => `http://[fe80::1]:${port}/photo`],
      ['fc00::1', () => `http://[fc00::1]:${port}/photo`],
      ['NAT64 of 10.0.0.1', () => `http://[64:ff9b::10.0.0.1]:${port}/photo`],
      ['NAT64 of 127.0.0.1', () => `http://[64:ff9b::7f00:1]:${port}/photo`],
      ['decimal 2130706433', () => `http://2130706433:${port}/photo`],
      ['hex 0x7f000001', () => `http://0x7f000001:${port}/photo`],
      ['octal 0177.0.0.1', () => `http://0177.0.0.1:${port}/photo`],
      ['short 127.1', () => `http://127.1:${port}/photo`],
      ['the metadata service', () => 'http://169.254.169.254/latest/meta-data/'],
      ['0.0.0.0', () => `http://0.0.0.0:${port}/photo`],
      ['a name resolving to loopback (https)', () => `https://localhost:${port}/photo`],
    ])('%s → URL_NOT_ALLOWED, no request sent', async (_what, url) => {
      expect(await codeOf(get(strict(), url()))).toBe('URL_NOT_ALLOWED');
      expect(publicHits).toEqual([]);
      expect(privateHits).toEqual([]);
    });
  });

  describe('DNS rebinding: the address checked is the address connected to', () => {
    it('resolves once per connection: a name that was public when checked cannot turn private for the connect', async () => {
      // A check-then-connect fetcher would resolve twice: public for the check, private for the socket.
      const resolve = resolverOf(['127.0.0.1'], ['127.0.0.2']);
      expect((await get(fetcher({ resolve }), `http://rebind.test:${port}/photo`)).toString()).toBe('public photo');
      expect(resolve.calls).toBe(1);
      expect(privateHits).toEqual([]);
      // The next connection sees the private answer, and is refused before connecting.
      expect(await codeOf(get(fetcher({ resolve }), `http://rebind.test:${port}/photo`))).toBe('URL_NOT_ALLOWED');
      expect(privateHits).toEqual([]);
    });

    it('drops the private addresses of an answer: a public one first and a private one second never reach the private one', async () => {
      // 127.0.0.3 is "public" but nothing listens there: Node's happy-eyeballs connect falls back
      // to the next address of the answer. Unfiltered, that would be the private server …
      const resolve = resolverOf(['127.0.0.3', '127.0.0.2']);
      const lax = fetcher({ resolve, isAllowedAddress: (ip) => ip !== '169.254.169.254' });
      expect((await get(lax, `http://mixed.test:${port}/photo`)).toString()).toBe('private secret');
      expect(privateHits).toEqual(['/photo']);
      privateHits = [];
      // … with the real filter the private address is never tried.
      expect(await codeOf(get(fetcher({ resolve }), `http://mixed.test:${port}/photo`))).toBe('URL_FETCH_FAILED');
      expect(privateHits).toEqual([]);
      // And with the order reversed, the public address is the one connected to.
      const reversed = resolverOf(['127.0.0.2', '127.0.0.1']);
      expect((await get(fetcher({ resolve: reversed }), `http://mixed.test:${port}/photo`)).toString()).toBe('public photo');
      expect(privateHits).toEqual([]);
    });

    it('refuses a name whose every answer is private, including IPv6 forms', async () => {
      const resolve = resolverOf(['127.0.0.2', '::1', '::ffff:127.0.0.2', 'fe80::1', '64:ff9b::a00:1', '169.254.169.254']);
      expect(await codeOf(get(fetcher({ resolve }), `http://private.test:${port}/photo`))).toBe('URL_NOT_ALLOWED');
      expect(privateHits).toEqual([]);
    });
  });

  describe('redirects', () => {
    // The stand-in public server redirects; the target is another private address, where a real
    // server listens, so that a followed redirect would be seen.
    const resolve: Resolver = (host, _o, cb) => cb(null, answer(host === 'public.test' ? '127.0.0.1' : '127.0.0.2'));
    it.each([
      ['a private IP', () => `http://127.0.0.2:${port}/secret`],
      ['its decimal form', () => `http://2130706434:${port}/secret`],
      ['its hex form', () => `http://0x7f000002:${port}/secret`],
      ['its octal form', () => `http://0177.0.0.2:${port}/secret`],
      ['its short form', () => `http://127.2:${port}/secret`],
      ['its IPv4-mapped IPv6 form', () => `http://[::ffff:127.0.0.2]:${port}/secret`],
      ['its NAT64 form', () => `http://[64:ff9b::7f00:2]:${port}/secret`],
      ['a name that resolves to it', () => `http://internal.test:${port}/secret`],
      ['the metadata service', () => 'http://169.254.169.254/latest/meta-data/iam/'],
      ['IPv6 loopback', () => `http://[::1]:${port}/secret`],
      ['a protocol-relative location', () => `//127.0.0.2:${port}/secret`],
    ])('to %s is refused with URL_NOT_ALLOWED', async (_what, target) => {
      const start = `http://public.test:${port}/redirect?to=${encodeURIComponent(target())}`;
      expect(await codeOf(get(fetcher({ resolve }), start))).toBe('URL_NOT_ALLOWED');
      expect(publicHits).toEqual([`/redirect?to=${encodeURIComponent(target())}`]);
      expect(privateHits).toEqual([]);
    });

    it('to an allowed address is followed (the test servers are live)', async () => {
      expect((await get(fetcher({ resolve }), `http://public.test:${port}/redirect?to=/photo`)).toString()).toBe('public photo');
      expect(publicHits).toHaveLength(2);
    });
  });
});
