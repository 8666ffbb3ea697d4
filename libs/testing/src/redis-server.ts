/**
 * A private redis-server for tests that must stop and restart Redis (never the shared one): its own
 * port and directory, AOF on, so a restart keeps every acknowledged write.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { freePort, sleep } from './service';

export interface PrivateRedis {
  url: string;
  port: number;
  dir: string;
  /** SHUTDOWN (AOF is flushed), then start again on the same port and directory. */
  restart(opts?: { downMs?: number }): Promise<void>;
  /** SIGSTOP / SIGCONT: a frozen Redis, whose connections stay open while nothing answers. */
  freeze(): void;
  thaw(): void;
  stop(): Promise<void>;
}

/** True when `redis-server` can be run here. */
export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'facepipe-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;

  const launch = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '', '--daemonize', 'no'], {
      stdio: 'ignore',
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
      probe.on('error', () => undefined);
      const ok = await probe.connect().then(() => probe.ping().then((p) => p === 'PONG'), () => false);
      probe.disconnect();
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
      await sleep(50);
    }
  };

  const shutdown = async () => {
    const running = child;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((r) => running.once('exit', r));
    const admin = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    admin.on('error', () => undefined);
    await admin.call('SHUTDOWN').catch(() => undefined); // the connection drops: that is the answer
    admin.disconnect();
    await exited;
  };

  await launch();
  return {
    url,
    port,
    dir,
    async restart(opts = {}) {
      await shutdown();
      await sleep(opts.downMs ?? 0);
      await launch();
    },
    freeze() {
      child?.kill('SIGSTOP');
    },
    thaw() {
      child?.kill('SIGCONT');
    },
    async stop() {
      child?.kill('SIGCONT'); // a frozen server cannot shut down
      await shutdown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
