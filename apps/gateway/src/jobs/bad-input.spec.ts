/**
 * Bad input at the HTTP edge of the ingest API (issue 6): every refused request gets its exact
 * status and stable code, nothing of it is enqueued, and the gateway stays up and keeps taking
 * good submissions. The per-photo failures (bytes that are not a photo, symlinks out of a root,
 * names resolving to private addresses) are settled by the detector: e2e/bad-input.spec.ts.
 */
import { MAX_ITEMS_PER_REQUEST, photoJobId } from '@facepipe/contracts';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { type Json, type TestGateway, startTestGateway } from '../testing/test-gateway';

const BOUNDARY = 'facepipe-bad-input';
const MULTIPART = { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` };
const MiB = 1024 * 1024;

/** One multipart part; `filename` as raw bytes, so that non-UTF-8 names can be sent. */
function part(field: string, content: Buffer | string, filename?: Buffer | string, extraDisposition = ''): Buffer {
  const name = filename === undefined ? [] : [Buffer.from('; filename="'), Buffer.from(filename), Buffer.from('"')];
  return Buffer.concat([
    Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${field}"`),
    ...name,
    Buffer.from(`${extraDisposition}\r\n${filename === undefined ? '' : 'Content-Type: image/jpeg\r\n'}\r\n`),
    Buffer.from(content),
    Buffer.from('\r\n'),
  ]);
}
const multipart = (...parts: Buffer[]) => Buffer.concat([...parts, Buffer.from(`--${BOUNDARY}--\r\n`)]);

/** A body written in 1 MiB chunks (with back-pressure), for the 200 MB requests. */
function streamed(head: string, megabytes: number, tail: string) {
  return (req: http.ClientRequest) => {
    const chunk = Buffer.alloc(MiB, 0x20);
    let sent = 0;
    req.write(head);
    const pump = () => {
      while (sent < megabytes && !req.destroyed) {
        sent++;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end(tail);
    };
    pump();
  };
}

interface Answer {
  status: number;
  body: Json;
}

/** A raw POST (fetch would normalise what these tests need to send badly). */
function post(base: string, route: string, headers: Record<string, string>, body: Buffer | string | ((req: http.ClientRequest) => void)): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(base + route, { method: 'POST', headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        let parsed: Json = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON: the assertion on the body shows it
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    // The server may answer (and stop reading) before a large body is sent: that is the point.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    if (typeof body === 'function') body(req);
    else req.end(body);
  });
}

/** Bytes written on a bare socket, for what no HTTP client sends; the answer is parsed by hand. */
function rawRequest(base: string, bytes: string): Promise<Answer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    // Written, not ended: a client that half-closes first may get no answer from an async route.
    const socket = net.connect(Number(port), hostname, () => socket.write(bytes));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (text += d));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head, body = ''] = text.split('\r\n\r\n');
      let parsed: Json = body;
      try {
        parsed = JSON.parse(body);
      } catch {
        // not JSON: the assertion on the body shows it
      }
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), body: parsed });
    });
  });
}

describe('bad input to the ingest routes', () => {
  let gw: TestGateway;
  let root: string;
  const JSON_TYPE = { 'content-type': 'application/json' };
  const photos = '/v1/collections/bad/photos';
  const json = (v: unknown) => JSON.stringify(v);
  /** A good item that rides along in every refused JSON request: it must not be enqueued either. */
  const good = () => ({ key: 'good.jpg', path: `${root}/good.jpg` });

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'facepipe-bad-root-'));
    // Default limits: 50 MiB per photo, 16 MiB of JSON.
    gw = await startTestGateway({ FACEPIPE_PATH_ROOTS: root });
    expect((await gw.fetch('/v1/collections', { method: 'POST', json: { name: 'bad' } })).status).toBe(201);
  });

  afterAll(async () => {
    await gw?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const queued = async () => {
    const c = await gw.detectQueue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed');
    return Object.values(c).reduce((a, b) => a + b, 0);
  };

  type Case = [what: string, send: () => Promise<Answer>, status: number, code: string, field?: string];
  const cases: Case[] = [
    // The body as a whole
    ['malformed JSON', () => post(gw.base, photos, JSON_TYPE, '{"items": ['), 400, 'INVALID_JSON'],
    ['a JSON string, not an object', () => post(gw.base, photos, JSON_TYPE, '"items"'), 400, 'INVALID_JSON'],
    ['a JSON array, not an object', () => post(gw.base, photos, JSON_TYPE, json([good()])), 400, 'VALIDATION_FAILED'],
    ['an empty JSON body', () => post(gw.base, photos, JSON_TYPE, ''), 400, 'VALIDATION_FAILED', 'items'],
    // No Content-Length at all (as `curl -X POST -H 'content-type: application/json'` sends): the same.
    ['a JSON content type and no body at all', () => rawRequest(gw.base, `POST ${photos} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n`), 400, 'VALIDATION_FAILED', 'items'],
    ['a multipart content type and no body at all', () => rawRequest(gw.base, `POST ${photos} HTTP/1.1\r\nhost: x\r\ncontent-type: multipart/form-data; boundary=x\r\nconnection: close\r\n\r\n`), 400, 'INVALID_MULTIPART'],
    ['1,000,000 nested arrays', () => post(gw.base, photos, JSON_TYPE, `{"items":${'['.repeat(1e6)}${']'.repeat(1e6)}}`), 400, 'INVALID_JSON'],
    ['a __proto__ member', () => post(gw.base, photos, JSON_TYPE, '{"items":[],"__proto__":{"seal":false}}'), 400, 'VALIDATION_FAILED'],
    ['text/plain', () => post(gw.base, photos, { 'content-type': 'text/plain' }, json({ items: [good()] })), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['no content type', () => post(gw.base, photos, {}, json({ items: [good()] })), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['a raw image/jpeg body', () => post(gw.base, photos, { 'content-type': 'image/jpeg' }, Buffer.from([0xff, 0xd8, 0xff])), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['a form-urlencoded body', () => post(gw.base, photos, { 'content-type': 'application/x-www-form-urlencoded' }, 'items=1'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['JSON in latin1', () => post(gw.base, photos, { 'content-type': 'application/json; charset=latin1' }, json({ items: [good()] })), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['JSON that is not valid UTF-8', () => post(gw.base, photos, JSON_TYPE, Buffer.concat([Buffer.from(`{"items":[{"path":"${root}/a`), Buffer.from([0xff, 0xfe]), Buffer.from('.jpg"}]}')])), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['JSON in UTF-16', () => post(gw.base, photos, { 'content-type': 'application/json; charset=utf-16' }, Buffer.from(json({ items: [good()] }), 'utf16le')), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['a content-encoded multipart body', () => post(gw.base, photos, { ...MULTIPART, 'content-encoding': 'gzip' }, multipart(part('photos', 'x', 'a.jpg'))), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['a multipart body with an unknown content encoding', () => post(gw.base, photos, { ...MULTIPART, 'content-encoding': 'x-evil' }, multipart(part('photos', 'x', 'a.jpg'))), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['an unknown content encoding', () => post(gw.base, photos, { ...JSON_TYPE, 'content-encoding': 'snappy' }, json({ items: [good()] })), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    // Refused by Node's HTTP parser, before any route: answered in the same JSON shape.
    ['a 64 KB header', () => post(gw.base, photos, { ...JSON_TYPE, 'x-filler': 'f'.repeat(64 * 1024) }, json({ items: [good()] })), 431, 'HEADERS_TOO_LARGE'],
    ['a request line that is not HTTP', () => rawRequest(gw.base, `POST ${photos} HTTP/9.x\r\nhost: x\r\n\r\n`), 400, 'MALFORMED_REQUEST'],
    ['a header with a space in its name', () => rawRequest(gw.base, `POST ${photos} HTTP/1.1\r\nhost: x\r\nbad name: 1\r\ncontent-length: 0\r\n\r\n`), 400, 'MALFORMED_REQUEST'],
    ['a 200 MB JSON body', () => post(gw.base, photos, JSON_TYPE, streamed('{"items":[', 200, ']}')), 413, 'PAYLOAD_TOO_LARGE'],
    // Exactly one byte over: the parser's own limit (one byte more) is not reached, the blob store refuses it.
    ['a photo one byte over the limit', () => post(gw.base, photos, MULTIPART, multipart(part('photos', Buffer.alloc(50 * MiB + 1, 0x20), 'big.jpg'))), 413, 'PHOTO_TOO_LARGE'],
    ['a photo one byte over the limit, then another', () => post(gw.base, photos, MULTIPART, multipart(part('photos', Buffer.alloc(50 * MiB + 1, 0x20), 'big.jpg'), part('photos', 'x', 'small.jpg'))), 413, 'PHOTO_TOO_LARGE'],
    ['a 200 MB photo', () => post(gw.base, photos, MULTIPART, streamed(part('photos', '', 'big.jpg').subarray(0, -2).toString('latin1'), 200, `\r\n--${BOUNDARY}--\r\n`)), 413, 'PHOTO_TOO_LARGE'],
    [`${MAX_ITEMS_PER_REQUEST + 1} JSON items`, () => post(gw.base, photos, JSON_TYPE, json({ items: Array.from({ length: MAX_ITEMS_PER_REQUEST + 1 }, (_, i) => ({ path: `${root}/${i}.jpg` })) })), 400, 'TOO_MANY_ITEMS'],
    [`${MAX_ITEMS_PER_REQUEST + 1} uploaded files`, () => post(gw.base, photos, MULTIPART, multipart(...Array.from({ length: MAX_ITEMS_PER_REQUEST + 1 }, (_, i) => part('photos', 'x', `${i}.jpg`)))), 400, 'TOO_MANY_ITEMS'],
    ['multipart without a boundary', () => post(gw.base, photos, { 'content-type': 'multipart/form-data' }, 'abc'), 400, 'INVALID_MULTIPART'],
    ['a truncated multipart body', () => post(gw.base, photos, MULTIPART, part('photos', 'x', 'a.jpg')), 400, 'INVALID_MULTIPART'],
    ['a file in another field', () => post(gw.base, photos, MULTIPART, multipart(part('image', 'x', 'a.jpg'))), 400, 'INVALID_MULTIPART'],
    ['multipart without files', () => post(gw.base, photos, MULTIPART, multipart(part('seal', 'true'))), 400, 'VALIDATION_FAILED', 'photos'],
    ['an unknown multipart field', () => post(gw.base, photos, MULTIPART, multipart(part('photos', 'x', 'a.jpg'), part('colour', 'red'))), 400, 'VALIDATION_FAILED', 'colour'],
    ['an unknown JSON member', () => post(gw.base, photos, JSON_TYPE, json({ items: [good()], colour: 'red' })), 400, 'VALIDATION_FAILED', 'colour'],
    ['an unknown member of an item', () => post(gw.base, photos, JSON_TYPE, json({ items: [good(), { path: `${root}/x.jpg`, colour: 'red' }] })), 400, 'VALIDATION_FAILED', 'items.1.colour'],

    // Collections
    ...['Upper', 'a%20b', '%2e%2e%2f%2e%2e%2fetc', 'x'.repeat(65), '%C3%BC'].map(
      (name): Case => [`the collection name ${name.slice(0, 20)}`, () => post(gw.base, `/v1/collections/${name}/photos`, JSON_TYPE, json({ items: [good()] })), 404, 'COLLECTION_NOT_FOUND'],
    ),
    // A literal (or %2e-encoded) `..` is resolved away by the URL itself: /v1/collections/../photos is /v1/photos, no route.
    ['the collection name .. (as typed)', () => post(gw.base, '/v1/collections/../photos', JSON_TYPE, json({ items: [good()] })), 404, 'NOT_FOUND'],
    ['creating the collection ../x', () => post(gw.base, '/v1/collections', JSON_TYPE, json({ name: '../x' })), 400, 'VALIDATION_FAILED', 'name'],
    ['creating a collection named with a NUL', () => post(gw.base, '/v1/collections', JSON_TYPE, json({ name: 'a\u0000' })), 400, 'VALIDATION_FAILED', 'name'],

    // Keys and file names
    ['a key with a control character', () => post(gw.base, photos, JSON_TYPE, json({ items: [good(), { key: 'a\nb', path: `${root}/x.jpg` }] })), 400, 'INVALID_PHOTO_KEY', 'items.1.key'],
    ['a key with a C1 control character (U+009B, a terminal escape)', () => post(gw.base, photos, JSON_TYPE, json({ items: [good(), { key: 'a\u009b2Jb', path: `${root}/x.jpg` }] })), 400, 'INVALID_PHOTO_KEY', 'items.1.key'],
    ['an empty key', () => post(gw.base, photos, JSON_TYPE, json({ items: [good(), { key: '', path: `${root}/x.jpg` }] })), 400, 'INVALID_PHOTO_KEY', 'items.1.key'],
    ['the key of an enrolled photo', () => post(gw.base, photos, JSON_TYPE, json({ items: [good(), { key: 'enroll/i0123456789abcdef01234567/abc', path: `${root}/x.jpg` }] })), 400, 'INVALID_PHOTO_KEY', 'items.1.key'],
    ['a 513-character key', () => post(gw.base, photos, JSON_TYPE, json({ items: [good(), { key: 'k'.repeat(513), path: `${root}/x.jpg` }] })), 400, 'INVALID_PHOTO_KEY', 'items.1.key'],
    ['a key that is a number', () => post(gw.base, photos, JSON_TYPE, json({ items: [good(), { key: 7, path: `${root}/x.jpg` }] })), 400, 'VALIDATION_FAILED', 'items.1.key'],
    ['a key with a lone surrogate', () => post(gw.base, photos, JSON_TYPE, `{"items":[${json(good())},{"key":"\\ud800","path":"${root}/x.jpg"}]}`), 400, 'INVALID_PHOTO_KEY', 'items.1.key'],
    ['a non-UTF-8 (latin1) file name', () => post(gw.base, photos, MULTIPART, multipart(part('photos', 'x', 'ok.jpg'), part('photos', 'y', Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x6a, 0x70, 0x67])))), 400, 'INVALID_PHOTO_KEY', 'photos.1'],
    ["a filename* that is not UTF-8", () => post(gw.base, photos, MULTIPART, multipart(part('photos', 'x', undefined, "; filename*=utf-8''caf%E9.jpg"))), 400, 'INVALID_PHOTO_KEY', 'photos.0'],
    ['an empty file name', () => post(gw.base, photos, MULTIPART, multipart(part('photos', 'x', 'ok.jpg'), part('photos', 'y', ''))), 400, 'INVALID_PHOTO_KEY', 'photos'],
    ['a photos part without a file name', () => post(gw.base, photos, MULTIPART, multipart(part('photos', 'x', 'ok.jpg'), part('photos', 'y'))), 400, 'INVALID_PHOTO_KEY', 'photos'],
    // Over 8 KiB, multer refuses it as a text field that is too long, before the route sees it.
    ['a 20 KB photo with an empty file name', () => post(gw.base, photos, MULTIPART, multipart(part('photos', Buffer.alloc(20_000, 1), ''))), 400, 'INVALID_PHOTO_KEY', 'photos'],
    ['a 600-character file name', () => post(gw.base, photos, MULTIPART, multipart(part('photos', 'x', 'n'.repeat(596) + '.jpg'))), 400, 'INVALID_PHOTO_KEY', 'photos.0'],
    ['a 100 KB file name (a part header over 16 KB)', () => post(gw.base, photos, MULTIPART, multipart(part('photos', 'x', 'n'.repeat(100_000)))), 400, 'INVALID_MULTIPART'],
    ['two file names that are one key', () => post(gw.base, photos, MULTIPART, multipart(part('photos', 'x', 'd/a.jpg'), part('photos', 'y', 'd/a.jpg'))), 400, 'DUPLICATE_KEY', 'photos.1'],

    // Server-side paths (the detector checks symlinks on the real path: e2e)
    ['a ../ path', () => post(gw.base, photos, JSON_TYPE, json({ items: [good(), { path: `${root}/../../etc/passwd` }] })), 400, 'PATH_NOT_ALLOWED', 'items.1.path'],
    ['an absolute path outside the roots', () => post(gw.base, photos, JSON_TYPE, json({ items: [good(), { path: '/etc/passwd' }] })), 400, 'PATH_NOT_ALLOWED', 'items.1.path'],
    ['a sibling of a root', () => post(gw.base, photos, JSON_TYPE, json({ items: [good(), { path: `${root}-evil/a.jpg` }] })), 400, 'PATH_NOT_ALLOWED', 'items.1.path'],
    ['the root itself', () => post(gw.base, photos, JSON_TYPE, json({ items: [good(), { path: `${root}/` }] })), 400, 'PATH_NOT_ALLOWED', 'items.1.path'],
    ['a relative path', () => post(gw.base, photos, JSON_TYPE, json({ items: [good(), { path: 'good.jpg' }] })), 400, 'PATH_NOT_ALLOWED', 'items.1.path'],
    ['a path with a NUL', () => post(gw.base, photos, JSON_TYPE, json({ items: [good(), { path: `${root}/a.jpg\u0000.png` }] })), 400, 'PATH_NOT_ALLOWED', 'items.1.path'],
    ['a URL on port 0 (Node would use port 80)', () => post(gw.base, photos, JSON_TYPE, json({ items: [good(), { url: 'https://example.com:0/a.jpg' }] })), 400, 'URL_NOT_ALLOWED', 'items.1.url'],
    ['a 5,000-character path', () => post(gw.base, photos, JSON_TYPE, json({ items: [good(), { path: `${root}/${'p'.repeat(5000)}` }] })), 400, 'VALIDATION_FAILED', 'items.1.path'],
    ['a path and a url at once', () => post(gw.base, photos, JSON_TYPE, json({ items: [good(), { path: `${root}/a.jpg`, url: 'https://e.com/a.jpg' }] })), 400, 'VALIDATION_FAILED', 'items.1'],

    // URL sources and webhooks: what the URL itself says (DNS names and redirects: at connect time)
    ...['http://[::ffff:127.0.0.1]/a.jpg', 'http://2130706433/a.jpg', 'http://0x7f000001/a.jpg', 'http://0177.0.0.1/a.jpg', 'http://127.1/a.jpg', 'http://[64:ff9b::10.0.0.1]/a.jpg', 'http://[fe80::1]/a.jpg', 'http://localhost./a.jpg', 'file:///etc/passwd'].map(
      (url): Case => [`the photo URL ${url}`, () => post(gw.base, photos, JSON_TYPE, json({ items: [good(), { url }] })), 400, 'URL_NOT_ALLOWED', 'items.1.url'],
    ),
    ...['http://169.254.169.254/latest/meta-data/', 'http://[::ffff:169.254.169.254]/', 'http://[fc00::1]/hook', 'http://0x7f000001:8080/hook'].map(
      (url): Case => [`the webhook URL ${url}`, () => post(gw.base, photos, JSON_TYPE, json({ items: [good()], webhook: { url } })), 400, 'WEBHOOK_URL_NOT_ALLOWED', 'webhook.url'],
    ),
    ['a multipart webhookUrl of [::1]', () => post(gw.base, photos, MULTIPART, multipart(part('photos', 'x', 'a.jpg'), part('webhookUrl', 'http://[::1]:9/hook'))), 400, 'WEBHOOK_URL_NOT_ALLOWED', 'webhookUrl'],
    ['a 5,000-character URL', () => post(gw.base, photos, JSON_TYPE, json({ items: [good(), { url: `https://e.com/${'u'.repeat(5000)}` }] })), 400, 'VALIDATION_FAILED', 'items.1.url'],
  ];

  const table = cases.map(([what, send, status, code, field]) => ({ what, send, status, code, field }));
  it.each(table)('$what → $status $code', async ({ send, status, code, field }) => {
    const before = await queued();
    const res = await send();
    expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
    expect(typeof res.body.error.message).toBe('string');
    if (field !== undefined) expect(res.body.error.field).toBe(field);
    expect(await queued()).toBe(before); // nothing of a refused request is enqueued
    expect(await gw.detectQueue.getJob(photoJobId('bad', 'good.jpg'))).toBeUndefined();
    expect(storedBlobs()).toEqual([]); // nor kept: no photo accepted so far, so no blob either
  }, 60_000);

  /** The blobs on disk (every file under blobs/ but the temp folder), relative to the data dir. */
  const storedBlobs = () =>
    (existsSync(path.join(gw.dataDir, 'blobs')) ? readdirSync(path.join(gw.dataDir, 'blobs'), { recursive: true, withFileTypes: true }) : [])
      .filter((e) => e.isFile())
      .map((f) => path.relative(gw.dataDir, path.join(f.parentPath ?? f.path, f.name)))
      .filter((f) => !f.startsWith(path.join('blobs', 'tmp') + path.sep));

  it("a refused upload deletes the blobs it created, never one a photo refers to", async () => {
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    const blobFile = (s: string) => path.join('blobs', sha(s).slice(0, 2), sha(s));
    const kept = await post(gw.base, photos, MULTIPART, multipart(part('photos', 'shared bytes', 'kept.jpg')));
    expect(kept.status).toBe(202);
    const refused = await post(gw.base, photos, MULTIPART, multipart(part('photos', 'shared bytes', 'dup.jpg'), part('photos', 'new bytes', 'dup.jpg')));
    expect(refused.body.error.code).toBe('DUPLICATE_KEY');
    expect(storedBlobs()).toContain(blobFile('shared bytes'));
    expect(storedBlobs()).not.toContain(blobFile('new bytes'));
  });

  it('leaves no partial upload behind after refusing a 200 MB photo', async () => {
    const tmp = path.join(gw.dataDir, 'blobs', 'tmp');
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('takes a key with ../ as an opaque label: the upload is stored by its hash, never under the key', async () => {
    const res = await post(gw.base, photos, MULTIPART, multipart(part('photos', 'opaque bytes', '../../../etc/cron.d/x'), part('photos', 'more', '/abs/olute.jpg')));
    expect(res.status).toBe(202);
    const job = await gw.detectQueue.getJob(photoJobId('bad', '../../../etc/cron.d/x'));
    expect(job?.data).toMatchObject({ key: '../../../etc/cron.d/x', source: { kind: 'blob', blobId: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    // Every file the gateway ever wrote is a blob named by its hash.
    const files = readdirSync(gw.dataDir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((f) => path.relative(gw.dataDir, path.join(f.parentPath ?? f.path, f.name)));
    for (const f of files) expect(f).toMatch(/^blobs\/[0-9a-f]{2}\/[0-9a-f]{64}$/);
    expect(files).toContain(path.join('blobs', job!.data.source.blobId.slice(0, 2), job!.data.source.blobId));
  });

  it('stays up: health is fine and a good submission is taken after all of the above', async () => {
    expect((await gw.fetch('/healthz')).status).toBe(200);
    const res = await gw.fetch(photos, { method: 'POST', json: { items: [good()] } });
    expect(res.status).toBe(202);
    expect((await gw.detectQueue.getJob(photoJobId('bad', 'good.jpg')))?.data.source).toEqual({ kind: 'path', path: `${root}/good.jpg` });
  });
});
