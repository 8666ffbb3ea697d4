// `npm start`: runs the whole service on one machine — the gateway and the three workers, each its
// own process exactly as Kubernetes runs them (node dist/apps/<app>/main.js) — against REDIS_URL,
// with the embedded face index under FACEPIPE_DATA_DIR. Output lines are prefixed with the app.
// Ctrl-C / SIGTERM stops all of them gracefully; if one dies, the others are stopped too.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const APPS = ['gateway', 'detector-worker', 'embedder-worker', 'matcher-worker'];

async function main() {
  for (const app of APPS) {
    if (!existsSync(path.join(root, 'dist/apps', app, 'main.js'))) {
      console.error(`facepipe: dist/apps/${app}/main.js is missing; run \`npm run build\` first`);
      process.exit(1);
    }
  }
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (!(await redisAnswers(redisUrl))) {
    console.error(`facepipe: Redis is not reachable at ${redisUrl}. Start one with: redis-server --daemonize yes  (or set REDIS_URL)`);
    process.exit(1);
  }

  const children = new Map();
  let stopping = false;
  const stopAll = (signal) => {
    if (stopping) return;
    stopping = true;
    for (const child of children.values()) child.kill(signal);
  };
  // Workers serve /healthz, /readyz and /metrics on fixed per-stage ports (9101–9103) unless
  // FACEPIPE_METRICS_PORT_BASE is set: then worker i gets base + i (tests and the demo use it to
  // run beside another instance).
  const base = Number(process.env.FACEPIPE_METRICS_PORT_BASE || 0);
  for (const [i, app] of APPS.entries()) {
    const env = base && app !== 'gateway' ? { ...process.env, FACEPIPE_METRICS_PORT: String(base + i) } : process.env;
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
        console.error(`facepipe: ${app} exited (${signal ?? `code ${code}`}); stopping the others`);
        process.exitCode = 1;
        stopAll('SIGTERM');
      }
      if (children.size === 0) process.exit(process.exitCode ?? 0);
    });
  }
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => stopAll('SIGTERM'));
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
