/**
 * END TO END: `facepipe ingest` (the real launcher, bin/facepipe.js → dist/apps/cli/main.js)
 * against the REAL service: the built gateway and detector/embedder/matcher workers
 * (dist/apps/<app>/main.js, each its own process, as `npm start` runs them), real Redis, real
 * models, real photos.
 *
 * Needs `npm run build` first (`npm test` runs it) and Redis at REDIS_URL (default
 * redis://127.0.0.1:6379). Uses its own port, Redis key prefix (facepipe-test-ingest-<pid>) and
 * data folder; afterwards stops the processes (SIGTERM) and deletes only its own Redis keys.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { parseState } from './state';

const ROOT = path.resolve(__dirname, '../../../..');
const BIN = path.join(ROOT, 'bin/facepipe.js');
const DEMO = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `facepipe-test-ingest-${process.pid}`;
const APPS = ['gateway', 'detector-worker', 'embedder-worker', 'matcher-worker'] as const;

jest.setTimeout(300_000);

let tmp: string, photos: string, outside: string, stateHome: string, server: string;
const services: { app: string; child: ChildProcess; log: string; readyz: string }[] = [];

beforeAll(async () => {
  for (const app of APPS) {
    if (!existsSync(path.join(ROOT, 'dist/apps', app, 'main.js'))) throw new Error(`dist/apps/${app}/main.js is missing: run \`npm run build\` first`);
  }
  tmp = mkdtempSync(path.join(os.tmpdir(), 'facepipe-ingest-e2e-'));
  photos = path.join(tmp, 'photos');
  outside = path.join(tmp, 'outside'); // not under FACEPIPE_PATH_ROOTS
  stateHome = path.join(tmp, 'state');
  const dataDir = path.join(tmp, 'data');
  mkdirSync(dataDir);
  const put = (dir: string, rel: string, from: string | Buffer) => {
    const file = path.join(dir, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    if (typeof from === 'string') copyFileSync(from, file);
    else writeFileSync(file, from);
  };
  // Four photos in nested folders, one of them not an image at all; plus what the walk skips.
  put(photos, '2019/summer/beach.jpg', path.join(DEMO, 'sample1.jpg'));
  put(photos, '2020/ünïcode album/sample2.jpg', path.join(DEMO, 'sample2.jpg'));
  put(photos, 'sample3.JPG', path.join(DEMO, 'sample3.jpg'));
  put(photos, 'notes/readme.jpg', Buffer.from('this is not a photo'));
  put(photos, 'notes/todo.txt', Buffer.from('not a photo name'));
  put(photos, '.thumbnails/beach.jpg', path.join(DEMO, 'sample1.jpg'));
  put(outside, 'x/one.jpg', path.join(DEMO, 'sample1.jpg'));

  const port = await freePort();
  server = `http://127.0.0.1:${port}`;
  for (const app of APPS) {
    const metricsPort = await freePort(); // the workers' /metrics, /healthz, /readyz (never a shared default)
    const log = path.join(tmp, `${app}.log`);
    const fd = openSync(log, 'w');
    const child = spawn(process.execPath, [path.join(ROOT, 'dist/apps', app, 'main.js')], {
      cwd: ROOT,
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: String(port),
        FACEPIPE_METRICS_PORT: String(metricsPort),
        FACEPIPE_PREFIX: PREFIX,
        FACEPIPE_DATA_DIR: dataDir,
        FACEPIPE_PATH_ROOTS: photos,
        REDIS_URL,
        FACEPIPE_API_KEY: '',
      },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    services.push({ app, child, log, readyz: app === 'gateway' ? `${server}/readyz` : `http://127.0.0.1:${metricsPort}/readyz` });
  }
  // Ready: the gateway and every worker (models loaded) answer /readyz.
  const deadline = Date.now() + 180_000;
  for (const s of services) {
    while (!(await fetch(s.readyz).then((r) => r.ok, () => false))) {
      if (s.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`${s.app} did not get ready (${s.child.exitCode !== null ? `exited ${s.child.exitCode}` : 'timed out'}):\n${logs()}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}, 240_000);

afterAll(async () => {
  await Promise.all(
    services.map(async ({ child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }),
  );
  await deleteRedisKeys(`${PREFIX}:*`);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, 60_000);

function logs(): string {
  return services.map((s) => `--- ${s.app}\n${existsSync(s.log) ? readFileSync(s.log, 'utf8').slice(-4000) : ''}`).join('\n');
}

/** Runs the CLI as a user does; resolves when it exits (async: the event loop keeps running). */
function facepipe(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, FACEPIPE_SERVER: server, XDG_STATE_HOME: stateHome, FACEPIPE_API_KEY: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The default state file: $XDG_STATE_HOME/facepipe/ingest-<sha256(server|collection|realpath DIR) first 16 hex>.jsonl */
function stateFileOf(collection: string, dir: string): string {
  const hash = createHash('sha256').update(`${server}|${collection}|${realpathSync(dir)}`).digest('hex').slice(0, 16);
  return path.join(stateHome, 'facepipe', `ingest-${hash}.jsonl`);
}

const stateKeys = (file: string) => [...parseState(readFileSync(file, 'utf8'))].sort();
const DONE_KEYS = ['2019/summer/beach.jpg', '2020/ünïcode album/sample2.jpg', 'sample3.JPG'];

function expectSummary(stdout: string, mode: 'path' | 'upload', collection: string, r: { done: number; failed: number; skipped: number }) {
  expect(stdout).toMatch(new RegExp(`Summary \\(collection "${collection}", job [^,]+, ${mode} mode\\)`));
  expect(stdout).toContain(`photos    ${r.done} done, ${r.failed} failed, ${r.skipped} skipped`);
}

describe('facepipe ingest against the real service (e2e)', () => {
  it('path mode: creates the collection, ingests, reports the failure, records the done photos; a rerun skips them', async () => {
    const r = await facepipe(['ingest', photos, '--collection', 'ingest-path', '--mode', 'path']);
    const context = `stdout:\n${r.stdout}\nstderr:\n${r.stderr}\n${logs()}`;
    expect({ code: r.code, context }).toEqual({ code: 1, context });
    expect(r.stdout).toContain(`4 photos in ${photos}`);
    expect(r.stdout).toContain('collection "ingest-path" did not exist; created it');
    expectSummary(r.stdout, 'path', 'ingest-path', { done: 3, failed: 1, skipped: 0 });
    expect(r.stdout).toContain('faces     9 faces'); // three group photos of three
    expect(r.stdout).toMatch(/people {4}\d+ (person|people) in the collection/);
    expect(r.stdout).toContain('failures  UNSUPPORTED_IMAGE_FORMAT ×1: notes/readme.jpg');
    expect(r.stdout).toMatch(/progress: 4\/4 photos \(100\.0%\)/); // not a TTY: plain lines
    const state = stateFileOf('ingest-path', photos);
    expect(r.stdout).toContain(`state     ${state}`);
    expect(stateKeys(state)).toEqual(DONE_KEYS);

    const again = await facepipe(['ingest', photos, '--collection', 'ingest-path', '--mode', 'path']);
    expect(again.code).toBe(1); // the failed photo is retried, and fails again
    expect(again.stdout).toContain(`skipping 3 already done (state file ${state})`);
    expect(again.stdout).toContain('sending 1 photo to collection "ingest-path"');
    expectSummary(again.stdout, 'path', 'ingest-path', { done: 0, failed: 1, skipped: 3 });
    expect(again.stdout).toContain('failures  UNSUPPORTED_IMAGE_FORMAT ×1: notes/readme.jpg');
    expect(stateKeys(state)).toEqual(DONE_KEYS);
  });

  it('a rerun after the collection was deleted (and created again, empty) sends every photo again', async () => {
    const state = stateFileOf('ingest-path', photos);
    expect(stateKeys(state)).toEqual(DONE_KEYS); // from the test above
    for (const [method, body] of [['DELETE', undefined], ['POST', JSON.stringify({ name: 'ingest-path' })]] as const) {
      const route = method === 'DELETE' ? '/v1/collections/ingest-path' : '/v1/collections';
      const res = await fetch(server + route, { method, body, headers: { 'content-type': 'application/json' } });
      expect(res.status).toBeLessThan(300);
    }
    const r = await facepipe(['ingest', photos, '--collection', 'ingest-path', '--mode', 'path']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('collection "ingest-path" was deleted and created again since the state file was written; forgetting its state and sending every photo again');
    expectSummary(r.stdout, 'path', 'ingest-path', { done: 3, failed: 1, skipped: 0 });
    expect(stateKeys(state)).toEqual(DONE_KEYS);
    const collection = (await (await fetch(`${server}/v1/collections/ingest-path`)).json()) as { photos: number; faces: number };
    expect(collection).toMatchObject({ photos: 3, faces: 9 });
  });

  it('upload mode: the keys keep their folders (and non-ASCII names); a rerun skips the done photos', async () => {
    const r = await facepipe(['ingest', photos, '--collection', 'ingest-upload', '--mode', 'upload']);
    const context = `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
    expect({ code: r.code, context }).toEqual({ code: 1, context });
    expect(r.stdout).toContain('collection "ingest-upload" did not exist; created it');
    expectSummary(r.stdout, 'upload', 'ingest-upload', { done: 3, failed: 1, skipped: 0 });
    expect(r.stdout).toContain('faces     9 faces');
    expect(r.stdout).toContain('failures  UNSUPPORTED_IMAGE_FORMAT ×1: notes/readme.jpg');
    expect(r.stderr).not.toContain('keys this run did not send');
    const state = stateFileOf('ingest-upload', photos);
    expect(stateKeys(state)).toEqual(DONE_KEYS);

    const again = await facepipe(['ingest', photos, '--collection', 'ingest-upload', '--mode', 'upload']);
    expect(again.code).toBe(1);
    expect(again.stdout).toContain('skipping 3 already done');
    expectSummary(again.stdout, 'upload', 'ingest-upload', { done: 0, failed: 1, skipped: 3 });
  });

  it('auto mode: a folder the server may not read is uploaded instead; exit 0 when all succeed', async () => {
    const r = await facepipe(['ingest', outside, '--collection', 'ingest-upload']);
    const context = `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
    expect({ code: r.code, context }).toEqual({ code: 0, context });
    expect(r.stdout).toContain('(not under its FACEPIPE_PATH_ROOTS); uploading the photos instead');
    expectSummary(r.stdout, 'upload', 'ingest-upload', { done: 1, failed: 0, skipped: 0 });
    expect(r.stdout).not.toContain('failures');
    expect(stateKeys(stateFileOf('ingest-upload', outside))).toEqual(['x/one.jpg']);
  });

  it('auto mode: a photo linked from outside FACEPIPE_PATH_ROOTS, which the server refuses to read, is uploaded', async () => {
    const linked = path.join(photos, 'linked');
    mkdirSync(linked);
    copyFileSync(path.join(DEMO, 'sample3.jpg'), path.join(linked, 'own.jpg'));
    symlinkSync(path.join(outside, 'x/one.jpg'), path.join(linked, 'ext.jpg'));
    const r = await facepipe(['ingest', linked, '--collection', 'ingest-linked']);
    const context = `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
    expect({ code: r.code, context }).toEqual({ code: 0, context });
    expect(r.stdout).toContain('the server may not read 1 photo by path (links out of its FACEPIPE_PATH_ROOTS); uploading them instead');
    expect(r.stdout).toContain('photos    2 done, 0 failed, 0 skipped');
    expect(stateKeys(stateFileOf('ingest-linked', linked))).toEqual(['ext.jpg', 'own.jpg']);
    const collection = (await (await fetch(`${server}/v1/collections/ingest-linked`)).json()) as { photos: number; faces: number };
    expect(collection).toMatchObject({ photos: 2, faces: 6 });
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function deleteRedisKeys(match: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2, lazyConnect: true });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } catch {
    // Redis down: nothing of ours to delete
  } finally {
    redis.disconnect();
  }
}
