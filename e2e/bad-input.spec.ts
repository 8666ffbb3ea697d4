/**
 * Bad photos through the real processes (issue 6): the gateway and the three workers, each its own
 * process, with the default URL policy (no private addresses). In one batch job, every photo that
 * can never succeed settles `failed` with its stable code, while the good photos of the same batch
 * finish `done` with their faces; then 200 fuzzed bodies go through the workers. No process
 * crashes or restarts, and the detector's memory stays bounded.
 *
 * The HTTP-level refusals (4xx) are in apps/gateway/src/jobs/bad-input.spec.ts, the in-process
 * fuzz of 1,800 more bodies in apps/gateway/src/jobs/upload-fuzz.spec.ts.
 */
import { isPublicAddress } from '@facepipe/pipeline';
import { APPS, allResults, api, claimDimensions, fuzzBodies, startProcesses, waitFor, type ResultItem, type ServiceProcesses } from '@facepipe/testing';
import { execFileSync } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

const DEMO = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
const sample = (i: number) => path.join(DEMO, `sample${i}.jpg`);
const SEED = Number(process.env.FACEPIPE_FUZZ_SEED || 6);
const FUZZ = 200;
const MiB = 1024 * 1024;
const DECODE_CODES = ['IMAGE_EMPTY', 'UNSUPPORTED_IMAGE_FORMAT', 'IMAGE_DECODE_FAILED', 'IMAGE_TOO_LARGE'];

interface JobView {
  state: string;
  total: number;
  done: number;
  failed: number;
}

let svc: ServiceProcesses;
let dir: string;
let root: string;
let photoServer: http.Server;
let photoHits = 0;
let pids: Record<string, number | undefined>;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'facepipe-e2e-bad-'));
  root = path.join(dir, 'root');
  mkdirSync(path.join(root, 'album'), { recursive: true });
  copyFileSync(sample(3), path.join(root, 'album', 'sample3.jpg'));
  // Outside the root, a real photo: if a guard failed, reading it would succeed (and show).
  mkdirSync(path.join(dir, 'outside'));
  copyFileSync(sample(4), path.join(dir, 'outside', 'secret.jpg'));
  symlinkSync(path.join(dir, 'outside', 'secret.jpg'), path.join(root, 'escape.jpg'));
  symlinkSync(path.join(dir, 'outside'), path.join(root, 'updir'));
  execFileSync('mkfifo', [path.join(root, 'pipe.jpg')]);
  // A photo server on loopback: the policy must keep the detector away from it.
  const photo = readFileSync(sample(5));
  photoServer = http.createServer((_req, res) => {
    photoHits++;
    res.writeHead(200, { 'content-type': 'image/jpeg' }).end(photo);
  });
  await new Promise<void>((resolve) => photoServer.listen(0, '127.0.0.1', resolve));
  svc = await startProcesses({ FACEPIPE_PATH_ROOTS: root, FACEPIPE_THREADS: '1', FACEPIPE_ALLOW_PRIVATE_URLS: 'false' });
  pids = Object.fromEntries(APPS.map((app) => [app, svc.pid(app)]));
  expect((await api(svc.base, 'POST', '/v1/collections', { name: 'bad' })).status).toBe(201);
}, 180_000);

afterAll(async () => {
  await svc?.stop();
  photoServer?.closeAllConnections();
  photoServer?.close();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** A DNS name (from /etc/hosts, no internet needed) that resolves to a non-public address, if any. */
async function privateName(): Promise<string | undefined> {
  for (const name of [os.hostname(), 'ip6-localhost', 'ip6-loopback']) {
    if (name === 'localhost' || name.endsWith('.localhost')) continue; // the gateway refuses those by name
    const addresses = await lookup(name, { all: true }).catch(() => []);
    if (addresses.length > 0 && addresses.every((a) => !isPublicAddress(a.address))) return name;
  }
  return undefined;
}

async function settledJob(jobId: string, ms: number): Promise<Map<string, ResultItem>> {
  await waitFor(`job ${jobId} to complete`, ms, async () => {
    const view = await api<JobView>(svc.base, 'GET', `/v1/jobs/${jobId}`);
    return view.json.state === 'completed';
  });
  return new Map((await allResults(svc.base, jobId)).map((r) => [r.key, r]));
}

/** Uploads add to an open job: the batch is one job whatever the mix of sources. */
async function addUploads(jobId: string, files: { key: string; bytes: Buffer }[], seal: boolean): Promise<void> {
  const form = new FormData();
  for (const f of files) form.append('photos', new Blob([f.bytes]), f.key);
  if (seal) form.append('seal', 'true');
  const res = await api(svc.base, 'POST', `/v1/jobs/${jobId}/photos`, form);
  expect(res.status).toBe(202);
}

it('settles each bad photo as failed with its code while the good photos of the same batch finish done', async () => {
  // Small real photos to damage, made with sharp from a demo photo.
  const base = sharp(sample(1)).resize(320);
  const jpeg = await base.clone().jpeg().toBuffer();
  const png = await base.clone().png().toBuffer();
  const webp = await base.clone().webp().toBuffer();
  // Damage that every decoder notices. (JPEG's entropy-coded data and lossy WebP carry no
  // checksum: damage there often still decodes, to a photo with wrong pixels, which is `done`.)
  const jpegBadTable = Buffer.from(jpeg);
  const dht = jpeg.indexOf(Buffer.from([0xff, 0xc4]));
  jpegBadTable.fill(0xff, dht + 5, dht + 21); // the Huffman table's code counts
  const pngBadCrc = Buffer.from(png);
  const idat = png.indexOf('IDAT');
  for (let i = 0; i < 4; i++) pngBadCrc[idat + 20 + i] ^= 0xff; // the image data no longer matches its CRC
  const webpBadFrame = Buffer.from(webp);
  webpBadFrame[webp.indexOf(Buffer.from([0x9d, 0x01, 0x2a]))] = 0; // the VP8 start code
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4000" height="4000"><rect width="4000" height="4000" fill="red"/></svg>');

  const uploads: [key: string, bytes: Buffer, expected: string][] = [
    ['good/sample1.jpg', readFileSync(sample(1)), 'done'],
    ['../../etc/passwd', readFileSync(sample(2)), 'done'], // a key is a label, never a path
    ['empty.jpg', Buffer.alloc(0), 'IMAGE_EMPTY'],
    ['truncated.jpg', jpeg.subarray(0, jpeg.length >> 1), 'IMAGE_DECODE_FAILED'],
    ['truncated.png', png.subarray(0, png.length >> 1), 'IMAGE_DECODE_FAILED'],
    ['truncated.webp', webp.subarray(0, webp.length >> 1), 'IMAGE_DECODE_FAILED'],
    ['header-cut.jpg', jpeg.subarray(0, 100), 'IMAGE_DECODE_FAILED'],
    ['corrupt.jpg', jpegBadTable, 'IMAGE_DECODE_FAILED'],
    ['corrupt.png', pngBadCrc, 'IMAGE_DECODE_FAILED'],
    ['corrupt.webp', webpBadFrame, 'IMAGE_DECODE_FAILED'],
    ['text.jpg', Buffer.from('this is a text file, not a photo\n'), 'UNSUPPORTED_IMAGE_FORMAT'],
    ['drawing.svg', svg, 'UNSUPPORTED_IMAGE_FORMAT'],
    ['svg-named.jpg', svg, 'UNSUPPORTED_IMAGE_FORMAT'],
    ['bomb.png', claimDimensions(png, 60_000, 60_000), 'IMAGE_TOO_LARGE'],
    ['bomb.jpg', claimDimensions(jpeg, 60_000, 60_000), 'IMAGE_TOO_LARGE'],
    ['bomb.webp', claimDimensions(webp, 16_000, 16_000), 'IMAGE_TOO_LARGE'],
  ];
  const paths: [key: string, file: string, expected: string][] = [
    ['path/good', path.join(root, 'album', 'sample3.jpg'), 'done'],
    ['path/symlink-out', path.join(root, 'escape.jpg'), 'PATH_NOT_ALLOWED'],
    ['path/through-symlinked-dir', path.join(root, 'updir', 'secret.jpg'), 'PATH_NOT_ALLOWED'],
    ['path/missing', path.join(root, 'missing.jpg'), 'PATH_NOT_FOUND'],
    ['path/directory', path.join(root, 'album'), 'PATH_NOT_FOUND'],
    ['path/fifo', path.join(root, 'pipe.jpg'), 'PATH_NOT_FOUND'],
    ['path/name-too-long', path.join(root, `${'n'.repeat(300)}.jpg`), 'PATH_NOT_FOUND'],
  ];
  const urls: [key: string, url: string, expected: string][] = [];
  const name = await privateName();
  const port = (photoServer.address() as AddressInfo).port;
  if (name) urls.push(['url/private-name', `http://${name}:${port}/photo.jpg`, 'URL_NOT_ALLOWED']);
  else console.warn('no host name resolving to a private address here: the connect-time URL case is skipped (photo-fetcher.ssrf.spec.ts covers it)');

  const created = await api<{ jobId: string }>(svc.base, 'POST', '/v1/collections/bad/photos', {
    items: [...paths.map(([key, file]) => ({ key, path: file })), ...urls.map(([key, url]) => ({ key, url }))],
    seal: false,
  });
  expect(created.status).toBe(202);
  const { jobId } = created.json;
  await addUploads(jobId, uploads.map(([key, bytes]) => ({ key, bytes })), true);

  const results = await settledJob(jobId, 120_000);
  const expected = [...uploads, ...paths, ...urls].map(([key, , outcome]) => [key, outcome]);
  const actual = expected.map(([key]) => {
    const r = results.get(key);
    return [key, r?.status === 'done' ? 'done' : (r?.error?.code ?? `unsettled (${JSON.stringify(r)})`)];
  });
  expect(actual).toEqual(expected);
  expect(results.size).toBe(expected.length);
  for (const [key, outcome] of expected) {
    if (outcome === 'done') expect(results.get(key)!.faces.length).toBeGreaterThan(0);
    else expect(results.get(key)!.error!.message).toEqual(expect.any(String));
  }
  expect(photoHits).toBe(0); // the loopback photo server was never reached
  const view = (await api<JobView>(svc.base, 'GET', `/v1/jobs/${jobId}`)).json;
  const good = expected.filter(([, outcome]) => outcome === 'done').length;
  expect(view).toMatchObject({ state: 'completed', total: expected.length, done: good, failed: expected.length - good });
  // Nothing restarted, everyone is ready.
  expect(Object.fromEntries(APPS.map((app) => [app, svc.pid(app)]))).toEqual(pids);
  expect((await fetch(`${svc.base}/readyz`)).status).toBe(200);
}, 180_000);

it(`runs ${FUZZ} fuzzed bodies through the workers: every photo settles, nothing crashes, memory stays bounded`, async () => {
  const bodies = await fuzzBodies(FUZZ, SEED + 1);
  const rssBefore = svc.rss('detector-worker')!;
  const created = await api<{ jobId: string }>(svc.base, 'POST', '/v1/collections/bad/photos', { items: [{ key: 'fuzz/good', path: path.join(root, 'album', 'sample3.jpg') }], seal: false });
  expect(created.status).toBe(202);
  const { jobId } = created.json;
  const files = bodies.map((b) => ({ key: `fuzz/${b.name}`, bytes: b.bytes }));
  for (let i = 0; i < files.length; i += 50) await addUploads(jobId, files.slice(i, i + 50), i + 50 >= files.length);

  const results = await settledJob(jobId, 150_000);
  expect(results.size).toBe(FUZZ + 1);
  expect(results.get('fuzz/good')).toMatchObject({ status: 'done' });
  expect(results.get('fuzz/good')!.faces.length).toBeGreaterThan(0);
  const outcomes: Record<string, number> = {};
  for (const b of bodies) {
    const r = results.get(`fuzz/${b.name}`)!;
    const outcome = r.status === 'done' ? 'done' : r.error!.code;
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    expect([b.name, DECODE_CODES.includes(outcome) || outcome === 'done']).toEqual([b.name, true]);
    if (b.name.includes('-original.')) expect([b.name, outcome]).toEqual([b.name, 'done']);
  }
  const rssAfter = svc.rss('detector-worker')!;
  console.log(`fuzz through the workers: ${FUZZ} bodies (seed ${SEED + 1}) → ${JSON.stringify(outcomes)}; detector RSS ${(rssBefore / MiB).toFixed(0)} → ${(rssAfter / MiB).toFixed(0)} MiB`);
  expect(outcomes.done).toBeGreaterThan(10);
  expect(rssAfter - rssBefore).toBeLessThan(200 * MiB);
  expect(Object.fromEntries(APPS.map((app) => [app, svc.pid(app)]))).toEqual(pids);
  expect((await fetch(`${svc.base}/readyz`)).status).toBe(200);
}, 240_000);
