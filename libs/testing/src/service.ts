/**
 * Runs the real, built service for end-to-end tests: `node tools/start.mjs` (what `npm start`
 * runs) with its own port, Redis key prefix and data directory, and cleans up only what it owns.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';

/** The repository root: the nearest folder up holding tools/start.mjs (this file is also bundled into dist/). */
export const ROOT = (() => {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'tools/start.mjs'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`cannot find the repository root above ${__dirname}`);
  }
})();
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface RunningService {
  base: string;
  prefix: string;
  dataDir: string;
  /** The pid of one app's process (tools/start.mjs runs each as its own child), if it runs. */
  appPid?(app: string): number | undefined;
  log(): string;
  stop(): Promise<void>;
}

export async function startService(extraEnv: Record<string, string> = {}): Promise<RunningService> {
  const port = await freePort();
  const metricsBase = 20000 + Math.floor(Math.random() * 20000);
  const prefix = `facepipe-test-e2e-${process.pid}-${Date.now()}`;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'facepipe-e2e-'));
  const child: ChildProcess = spawn(process.execPath, [path.join(ROOT, 'tools/start.mjs')], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', FACEPIPE_PREFIX: prefix, FACEPIPE_DATA_DIR: dataDir, REDIS_URL, FACEPIPE_METRICS_PORT_BASE: String(metricsBase), ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (d) => { log += d; });
  child.stderr!.on('data', (d) => { log += d; });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (!(await fetch(`${base}/readyz`).then((r) => r.ok, () => false))) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`service did not start:\n${log}`);
    await sleep(200);
  }
  return {
    base,
    prefix,
    dataDir,
    appPid: (app) => childPids(child.pid!).find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`dist/apps/${app}/main.js`)),
    log: () => log,
    async stop() {
      child.kill('SIGTERM');
      // Give the graceful drain 20 s, then kill; the timer must not outlive the stop.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => { timer = setTimeout(r, 20_000); })]);
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await deleteKeys(prefix);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function deleteKeys(prefix: string, redisUrl = REDIS_URL): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export async function waitFor<T>(what: string, ms: number, check: () => Promise<T | undefined | null | false>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The child processes of `pid` (Linux /proc). */
function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
