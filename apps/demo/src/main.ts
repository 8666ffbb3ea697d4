/**
 * `npm run demo`: the main job end to end on a fresh clone. Starts the service (gateway + three
 * workers, as `npm start` does) on a free port with its own Redis key prefix and data directory,
 * ingests the six demo group photos — plus a mirrored crop of the first, so that people recur
 * across photos — through the HTTP API, waits for the signed webhook, prints what was found, then
 * stops the service and removes its keys and files. Exits 0 on success.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { JobView, PhotoResult } from '@facepipe/contracts';
import { startService, waitFor } from '@facepipe/testing';
import sharp from 'sharp';

const DEMO_DIR = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
const WEBHOOK_TIMEOUT_MS = 300_000;
const SECRET = 'demo-secret';

interface Delivery { event: string; eventId: string; signatureValid: boolean }

async function main(): Promise<void> {
  const service = await startService({ FACEPIPE_ALLOW_PRIVATE_URLS: 'true' });
  const hook = await webhookReceiver();
  try {
    console.log(`service up on ${service.base} (Redis prefix ${service.prefix}, data ${service.dataDir})`);
    const call = api(service.base);
    await call('POST', '/v1/collections', { name: 'demo' });

    const photos = [1, 2, 3, 4, 5, 6].map((i) => ({ name: `sample${i}.jpg`, bytes: readFileSync(path.join(DEMO_DIR, `sample${i}.jpg`)) }));
    const mirrored = await sharp(photos[0].bytes).flop().extract({ left: 200, top: 100, width: 1600, height: 1000 }).jpeg().toBuffer();
    photos.push({ name: 'sample1-mirrored-crop.jpg', bytes: mirrored });
    const form = new FormData();
    for (const p of photos) form.append('photos', new Blob([p.bytes], { type: 'image/jpeg' }), p.name);
    form.append('webhookUrl', hook.url);
    form.append('webhookSecret', SECRET);
    const started = Date.now();
    const { jobId } = await call<{ jobId: string }>('POST', '/v1/collections/demo/photos', form);
    console.log(`job ${jobId}: ${photos.length} photos submitted; waiting for the webhook…`);

    const delivery = await waitFor('the webhook', WEBHOOK_TIMEOUT_MS, async () => hook.deliveries[0]);
    if (!delivery.signatureValid) throw new Error('the webhook signature did not verify');
    console.log(`webhook ${delivery.event} (event ${delivery.eventId}, signature valid) after ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const job = await call<JobView>('GET', `/v1/jobs/${jobId}`);
    const results: PhotoResult[] = [];
    let cursor: string | undefined;
    do {
      const page = await call<{ items: PhotoResult[]; next?: string }>('GET', `/v1/jobs/${jobId}/results${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`);
      results.push(...page.items);
      cursor = page.next;
    } while (cursor);

    console.log(`\n${job.done} photos done, ${job.failed} failed, ${job.faces} faces\n`);
    for (const r of results) console.log(`  ${r.key.padEnd(28)} ${r.status === 'done' ? `${r.faces.length} faces` : `failed: ${r.error?.code}`}`);
    const people = new Map<string, string[]>();
    for (const r of results) for (const f of r.faces) people.set(f.personId, [...(people.get(f.personId) ?? []), r.key]);
    const recurring = [...people.entries()].filter(([, keys]) => keys.length > 1);
    console.log(`\n${people.size} people; ${recurring.length} seen in more than one photo:`);
    for (const [person, keys] of recurring) console.log(`  ${person}: ${keys.join(', ')}`);
    const stats = await call<{ photos: number; faces: number; people: number }>('GET', '/v1/collections/demo');
    console.log(`\ncollection demo: ${stats.photos} photos, ${stats.faces} faces, ${stats.people} people`);
    if (job.state !== 'completed' || job.done !== photos.length) throw new Error(`job ended ${job.state} with ${job.done}/${photos.length} done`);
  } catch (err) {
    console.error(service.log());
    throw err;
  } finally {
    hook.close();
    await service.stop();
  }
}

function api(base: string) {
  return async <T = unknown>(method: string, route: string, body?: unknown): Promise<T> => {
    const init: RequestInit = { method };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) Object.assign(init, { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    const res = await fetch(base + route, init);
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${route} → ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
}

function webhookReceiver(): Promise<{ url: string; deliveries: Delivery[]; close(): void }> {
  const deliveries: Delivery[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => { raw += d; });
    req.on('end', () => {
      const expected = 'sha256=' + createHmac('sha256', SECRET).update(`${req.headers['x-facepipe-timestamp']}.${raw}`).digest('hex');
      deliveries.push({
        event: (JSON.parse(raw) as { event: string }).event,
        eventId: String(req.headers['x-facepipe-event-id']),
        signatureValid: req.headers['x-facepipe-signature'] === expected,
      });
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    deliveries,
    close: () => { server.closeAllConnections(); server.close(); },
  })));
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
