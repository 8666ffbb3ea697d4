/**
 * The built service with per-process control, for fault tests and the soak bench: the gateway and
 * the three workers are spawned one by one (`node dist/apps/<app>/main.js`, as Kubernetes runs
 * them) rather than through tools/start.mjs, which stops everything when one app dies. So a test
 * can SIGKILL one worker, start a replacement, and watch each process's memory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REDIS_URL, ROOT, deleteKeys, freePort, sleep, type RunningService } from './service';

export const APPS = ['gateway', 'detector-worker', 'embedder-worker', 'matcher-worker'] as const;
export type AppName = (typeof APPS)[number];

export interface ServiceProcesses extends RunningService {
  redisUrl: string;
  /** The running process of an app, if it runs. */
  pid(app: AppName): number | undefined;
  /** Sends `signal` (default SIGKILL) and resolves once the process has exited. */
  kill(app: AppName, signal?: NodeJS.Signals): Promise<void>;
  /** Starts the app (again) and resolves once its /readyz answers 200. */
  start(app: AppName): Promise<void>;
  /** kill (SIGKILL) then start. */
  restart(app: AppName): Promise<void>;
  /** Resident memory of the app's process in bytes (Linux /proc), or undefined if it is not running. */
  rss(app: AppName): number | undefined;
}

/** Keep the last 4 MiB of logs: a long soak must not grow the test runner's heap without bound. */
const MAX_LOG = 4 * 1024 * 1024;

/**
 * Starts the four apps with their own port, FACEPIPE_PREFIX and data directory (REDIS_URL may be
 * overridden in `extraEnv`, e.g. for a Redis the test restarts), waits until each is ready.
 */
export async function startProcesses(extraEnv: Record<string, string> = {}): Promise<ServiceProcesses> {
  const port = await freePort();
  const metricsPorts = await Promise.all(APPS.map(() => freePort()));
  const prefix = `facepipe-test-faults-${process.pid}-${Date.now()}`;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'facepipe-faults-'));
  const redisUrl = extraEnv.REDIS_URL ?? REDIS_URL;
  const base = `http://127.0.0.1:${port}`;
  const children = new Map<AppName, { child: ChildProcess; exited: Promise<void> }>();
  let log = '';
  const append = (app: AppName, chunk: Buffer) => {
    log += chunk.toString().replace(/^(?=.)/gm, `[${app}] `);
    if (log.length > MAX_LOG) log = log.slice(log.length - MAX_LOG / 2);
  };

  const readyUrl = (app: AppName) =>
    app === 'gateway' ? `${base}/readyz` : `http://127.0.0.1:${metricsPorts[APPS.indexOf(app)]}/readyz`;

  const start = async (app: AppName): Promise<void> => {
    if (children.has(app)) throw new Error(`${app} is already running`);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      FACEPIPE_PREFIX: prefix,
      FACEPIPE_DATA_DIR: dataDir,
      REDIS_URL: redisUrl,
      FACEPIPE_METRICS_PORT: String(metricsPorts[APPS.indexOf(app)]),
      ...extraEnv,
    };
    const child = spawn(process.execPath, [path.join(ROOT, 'dist/apps', app, 'main.js')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => append(app, d));
    child.stderr!.on('data', (d: Buffer) => append(app, d));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    children.set(app, { child, exited });
    void exited.then(() => {
      if (children.get(app)?.child === child) children.delete(app);
    });
    const deadline = Date.now() + 90_000;
    while (!(await fetch(readyUrl(app)).then((r) => r.ok, () => false))) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${app} exited while starting:\n${log.slice(-4000)}`);
      if (Date.now() > deadline) throw new Error(`${app} did not become ready:\n${log.slice(-4000)}`);
      await sleep(200);
    }
  };

  const kill = async (app: AppName, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const running = children.get(app);
    if (!running) return;
    running.child.kill(signal);
    await running.exited;
  };

  const stopAll = async () => {
    await Promise.all(
      [...children.keys()].map(async (app) => {
        const running = children.get(app)!;
        running.child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([running.exited, new Promise((r) => (timer = setTimeout(r, 20_000)))]);
        clearTimeout(timer);
        if (children.has(app)) await kill(app, 'SIGKILL');
      }),
    );
  };

  try {
    // The gateway first (it checks Redis and fails fast with a clear message), then the workers together.
    await start('gateway');
    await Promise.all(APPS.filter((a) => a !== 'gateway').map(start));
  } catch (err) {
    await stopAll();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }

  return {
    base,
    prefix,
    dataDir,
    redisUrl,
    log: () => log,
    pid: (app) => children.get(app)?.child.pid,
    kill,
    start,
    async restart(app) {
      await kill(app);
      await start(app);
    },
    rss(app) {
      const pid = children.get(app)?.child.pid;
      if (!pid) return undefined;
      try {
        const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
        return kb ? Number(kb) * 1024 : undefined;
      } catch {
        return undefined;
      }
    },
    async stop() {
      await stopAll();
      await deleteKeys(prefix, redisUrl).catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
