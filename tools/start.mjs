// `npm start`: runs the whole service on one machine — the gateway and the three workers, each its
// own process exactly as Kubernetes runs them (node dist/apps/<app>/main.js) — against REDIS_URL,
// with the embedded face index under FACEPIPE_DATA_DIR. Output lines are prefixed with the app.
// Ctrl-C / SIGTERM stops all of them gracefully. An app that dies is started again after a
// backoff, as Kubernetes restarts a container (the matcher stops itself when its index must be
// reopened), however often once it has run; one that has never come up (a port in use, a bad
// setting) and dies right after starting MAX_QUICK_FAILURES times stops them all.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { clearTimeout, setTimeout } from 'node:timers';
import { URL, fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const APPS = ['gateway', 'detector-worker', 'embedder-worker', 'matcher-worker'];

async function main() {
  for (const app of APPS) {
    if (!existsSync(path.join(root, 'dist/apps', app, 'main.js'))) {
      console.error(`facepipe: dist/apps/${app}/main.js is missing; run \`npm run build\` first`);
      process.exit(1);
    }
  }
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  if (!isRedisUrl(redisUrl)) {
    console.error(`facepipe: Invalid configuration: REDIS_URL must be a redis:// or rediss:// URL (got ${JSON.stringify(redisUrl)})`);
    process.exit(1);
  }
  const base = metricsPortBase(process.env.FACEPIPE_METRICS_PORT_BASE);
  if (!(await redisAnswers(redisUrl))) {
    console.error(`facepipe: Redis is not reachable at ${redisUrl}. Start one with: redis-server --daemonize yes  (or set REDIS_URL)`);
    process.exit(1);
  }

  const children = new Map();
  const restarts = new Map(); // app → pending restart timer
  let stopping = false;
  const stopAll = (signal) => {
    if (stopping) return;
    stopping = true;
    for (const timer of restarts.values()) clearTimeout(timer);
    restarts.clear();
    for (const child of children.values()) child.kill(signal);
    if (children.size === 0) process.exit(process.exitCode ?? 0);
  };
  const start = (app, i, quickFailures, cameUp = false) => {
    const env = base && app !== 'gateway' ? { ...process.env, FACEPIPE_METRICS_PORT: String(base + i) } : process.env;
    const startedAt = Date.now();
    const child = spawn(process.execPath, [path.join(root, 'dist/apps', app, 'main.js')], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.set(app, child);
    prefixLines(child.stdout, process.stdout, app);
    prefixLines(child.stderr, process.stderr, app);
    child.on('exit', (code, signal) => {
      children.delete(app);
      if (!stopping) {
        const how = signal ?? `code ${code}`;
        const ranFor = Date.now() - startedAt;
        const failures = ranFor < QUICK_FAILURE_MS ? quickFailures + 1 : 0;
        // An app that has run before is not misconfigured: it dies at start while what it needs
        // is away (Redis down: every app exits when it cannot reach Redis), so it keeps trying.
        const up = cameUp || ranFor >= QUICK_FAILURE_MS;
        if (!up && failures >= MAX_QUICK_FAILURES) {
          console.error(`facepipe: ${app} exited (${how}) ${failures} times in a row right after starting; stopping the others`);
          process.exitCode = 1;
          stopAll('SIGTERM');
        } else {
          const delay = Math.min(1000 * 2 ** (failures > 0 ? failures - 1 : 0), 30_000);
          console.error(`facepipe: ${app} exited (${how}); starting it again in ${delay / 1000} s`);
          restarts.set(app, setTimeout(() => (restarts.delete(app), start(app, i, failures, up)), delay));
        }
      } else if (code !== 0 && signal !== 'SIGTERM') {
        console.error(`facepipe: ${app} stopped with ${signal ?? `code ${code}`}`);
        process.exitCode = 1; // a forced or failed stop is not a clean one
      }
      if (stopping && children.size === 0) process.exit(process.exitCode ?? 0);
    });
  };
  for (const [i, app] of APPS.entries()) start(app, i, 0);
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => stopAll('SIGTERM'));
}

/** An app that exits this soon after it started, MAX_QUICK_FAILURES times in a row, cannot start. */
const QUICK_FAILURE_MS = 10_000;
const MAX_QUICK_FAILURES = 5;

function isRedisUrl(url) {
  try {
    return ['redis:', 'rediss:'].includes(new URL(url).protocol);
  } catch {
    return false;
  }
}

/**
 * Workers serve /healthz, /readyz and /metrics on fixed per-stage ports (9101–9103) unless
 * FACEPIPE_METRICS_PORT_BASE is set: then worker i gets base + i, i = 1..3 (tests and the demo use
 * it to run beside another instance). 0 when unset; anything else but a port that leaves room for
 * the three stops here, naming the variable (the workers would name FACEPIPE_METRICS_PORT).
 */
function metricsPortBase(raw) {
  if (raw === undefined || raw === '') return 0;
  const base = Number(raw);
  if (/^\d+$/.test(raw) && base >= 1 && base <= 65535 - (APPS.length - 1)) return base;
  console.error(`facepipe: Invalid configuration: FACEPIPE_METRICS_PORT_BASE must be an integer from 1 to ${65535 - (APPS.length - 1)} (got ${JSON.stringify(raw)})`);
  process.exit(1);
}

/** A plain PING over a socket: no client library needed to say "Redis is down". */
function redisAnswers(url) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname || '127.0.0.1', port: Number(port || 6379) });
    const done = (ok) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(2000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    // +PONG, or -NOAUTH when a password is needed: either way a Redis answered.
    socket.on('data', (d) => done(/^[+-]/.test(d.toString())));
  });
}

function prefixLines(from, to, name) {
  let rest = '';
  from.on('data', (chunk) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop();
    for (const line of lines) to.write(`[${name}] ${line}\n`);
  });
  from.on('end', () => rest && to.write(`[${name}] ${rest}\n`));
}

main();
