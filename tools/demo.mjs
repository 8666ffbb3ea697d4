// `npm run demo`: the main job end to end on a fresh clone. Starts the service (gateway + three
// workers, `tools/start.mjs`) on a free port with its own Redis key prefix and data directory,
// ingests the six demo group photos (plus a mirrored crop of the first, so that people recur
// across photos) through the HTTP API, waits for the signed webhook, prints what was found, then
// stops the service and removes its keys and files. Exits 0 on success.
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const sharp = require('sharp');
const Redis = require('ioredis');
const demoDir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
const TIMEOUT_MS = 300_000;

async function main() {
  const port = await freePort();
  const prefix = `facepipe-demo-${process.pid}`;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'facepipe-demo-'));
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const env = {
    ...process.env, PORT: String(port), HOST: '127.0.0.1', FACEPIPE_PREFIX: prefix, FACEPIPE_DATA_DIR: dataDir,
    FACEPIPE_ALLOW_PRIVATE_URLS: 'true', REDIS_URL: redisUrl, FACEPIPE_METRICS_PORT_BASE: String(20000 + Math.floor(Math.random() * 20000)),
  };
  const service = spawn(process.execPath, [path.join(root, 'tools/start.mjs')], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let serviceLog = '';
  service.stdout.on('data', (d) => { serviceLog += d; });
  const exited = new Promise((resolve) => service.on('exit', resolve));
  const base = `http://127.0.0.1:${port}`;
  const secret = 'demo-secret';
  const hook = await webhookReceiver(secret);
  try {
    await waitFor(async () => (await fetch(`${base}/readyz`).catch(() => null))?.ok, 60_000, 'the gateway to be ready', () => serviceLog);
    console.log(`service up on ${base} (prefix ${prefix}, data ${dataDir})`);

    await call('POST', `${base}/v1/collections`, { name: 'demo' });
    const form = new FormData();
    const photos = [1, 2, 3, 4, 5, 6].map((i) => ({ name: `sample${i}.jpg`, bytes: readFileSync(path.join(demoDir, `sample${i}.jpg`)) }));
    const mirrored = await sharp(photos[0].bytes).flop().extract({ left: 200, top: 100, width: 1600, height: 1000 }).jpeg().toBuffer();
    photos.push({ name: 'sample1-mirrored-crop.jpg', bytes: mirrored });
    for (const p of photos) form.append('photos', new Blob([p.bytes], { type: 'image/jpeg' }), p.name);
    form.append('webhookUrl', hook.url);
    form.append('webhookSecret', secret);
    const started = Date.now();
    const { jobId } = await call('POST', `${base}/v1/collections/demo/photos`, form);
    console.log(`job ${jobId}: ${photos.length} photos submitted; waiting for the webhook…`);

    const event = await Promise.race([hook.received, exited.then(() => { throw new Error(`the service stopped:\n${serviceLog}`); })]);
    if (!event.signatureValid) throw new Error('the webhook signature did not verify');
    console.log(`webhook ${event.body.event} (event ${event.eventId}, signature valid) after ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const job = await call('GET', `${base}/v1/jobs/${jobId}`);
    const results = [];
    let cursor;
    do {
      const page = await call('GET', `${base}/v1/jobs/${jobId}/results${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`);
      results.push(...page.items);
      cursor = page.next;
    } while (cursor);

    console.log(`\n${job.done} photos done, ${job.failed} failed, ${job.faces} faces\n`);
    for (const r of results) console.log(`  ${r.key.padEnd(28)} ${r.status === 'done' ? `${r.faces.length} faces` : `failed: ${r.error?.code}`}`);
    const people = new Map();
    for (const r of results) for (const f of r.faces) people.set(f.personId, [...(people.get(f.personId) ?? []), r.key]);
    const recurring = [...people.entries()].filter(([, keys]) => keys.length > 1);
    console.log(`\n${people.size} people; ${recurring.length} seen in more than one photo:`);
    for (const [person, keys] of recurring) console.log(`  ${person}: ${keys.join(', ')}`);
    const stats = await call('GET', `${base}/v1/collections/demo`);
    console.log(`\ncollection demo: ${stats.photos} photos, ${stats.faces} faces, ${stats.people} people`);
    if (job.state !== 'completed' || job.done !== photos.length) throw new Error(`job ended ${job.state} with ${job.done}/${photos.length} done`);
  } finally {
    hook.close();
    service.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000)]);
    await removeKeys(redisUrl, prefix);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function call(method, url, body) {
  const init = { method };
  if (body instanceof FormData) init.body = body;
  else if (body) { init.body = JSON.stringify(body); init.headers = { 'content-type': 'application/json' }; }
  const res = await fetch(url, init);
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url} → ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

function webhookReceiver(secret) {
  let resolve;
  const received = new Promise((r) => { resolve = r; });
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => { raw += d; });
    req.on('end', () => {
      const ts = req.headers['x-facepipe-timestamp'];
      const expected = 'sha256=' + createHmac('sha256', secret).update(`${ts}.${raw}`).digest('hex');
      res.writeHead(204).end();
      resolve({ body: JSON.parse(raw), eventId: req.headers['x-facepipe-event-id'], signatureValid: req.headers['x-facepipe-signature'] === expected });
    });
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({
    url: `http://127.0.0.1:${server.address().port}/hook`,
    received: Promise.race([received, sleep(TIMEOUT_MS).then(() => { throw new Error('no webhook within the time limit'); })]),
    close: () => server.close(),
  })));
}

async function waitFor(check, ms, what, log) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}\n${log()}`);
}

async function removeKeys(url, prefix) {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
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

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

main().then(() => process.exit(0), (err) => { console.error(`demo failed: ${err.message}`); process.exit(1); });
