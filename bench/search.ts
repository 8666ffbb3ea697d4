/**
 * bench/search — latency of the synchronous 1:N search on this machine: POST
 * /v1/collections/{c}/search with a one-face photo (multipart upload), over HTTP, the gateway and
 * the three workers running as separate processes, one request at a time. Against it, in the same
 * run, the model-only time of the same photos: decode + detect + align + embed in this process
 * with the workers' thread count. The two alternate, photo by photo (one model-only pass, then the
 * same photo's request), so both see the same machine: measured one after the other, a CPU whose
 * speed drifts (turbo, a noisy neighbour on a shared host) moved the baseline by ±15% between
 * runs and the overhead with it. Prints p50/p99 of both, the overhead of the service (target:
 * p50 ≤ model p50 + 10 ms) and the median of the per-photo differences.
 *
 * The photos are the demo faces cut out one per photo (each of good enough quality is also
 * enrolled as an identity, so every search finds a match).
 *
 * The timed client is what a load tester is: node:http on a keep-alive connection, each photo's
 * multipart body encoded once beforehand, so the figure is the service's and not the client's.
 * `--client fetch` times undici's fetch with a FormData built per request instead (it adds about
 * 3 ms here: FormData encoding and fetch's own machinery).
 *   npm run bench:search -- [--requests N] [--threads N] [--exact] [--client http|fetch]
 */
import { FaceEngine } from '@facepipe/face-engine';
import { startService } from '@facepipe/testing';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';

const DEMO = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
const FILES = [1, 2, 3, 4, 5, 6].map((i) => path.join(DEMO, `sample${i}.jpg`));

/** Every demo face as a photo of its own: the face with 30% of its size around it. */
async function faceCrops(engine: FaceEngine): Promise<Buffer[]> {
  const crops: Buffer[] = [];
  for (const file of FILES) {
    const { width, height, faces } = await engine.analyze(await sharp(file).toBuffer());
    for (const f of faces) {
      if (f.quality < 0.2) continue; // the enrolment floor: profiles would be refused
      const w = f.box.x2 - f.box.x1, h = f.box.y2 - f.box.y1;
      const left = Math.max(0, Math.round(f.box.x1 - 0.3 * w)), top = Math.max(0, Math.round(f.box.y1 - 0.3 * h));
      const right = Math.min(width, Math.round(f.box.x2 + 0.3 * w)), bottom = Math.min(height, Math.round(f.box.y2 + 0.3 * h));
      crops.push(await sharp(file).extract({ left, top, width: right - left, height: bottom - top }).jpeg({ quality: 92 }).toBuffer());
    }
  }
  return crops;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

/** A multipart/form-data body with the file in `photo` and text fields, encoded once. */
function multipartBody(photo: Buffer, fields: Record<string, string>): { body: Buffer; contentType: string } {
  const boundary = `bench${randomBytes(12).toString('hex')}`;
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields)) parts.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  parts.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="photo"; filename="photo.jpg"\r\ncontent-type: image/jpeg\r\n\r\n`));
  parts.push(photo, Buffer.from(`\r\n--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** POST of a pre-encoded body on a keep-alive connection; resolves with the parsed JSON answer. */
function postRaw(agent: http.Agent, url: string, { body, contentType }: { body: Buffer; contentType: string }): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': contentType, 'content-length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) reject(new Error(`POST ${url} → ${res.statusCode} ${text}`));
        else resolve(JSON.parse(text));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { requests: { type: 'string', default: '300' }, threads: { type: 'string', default: '1' }, exact: { type: 'boolean', default: false }, client: { type: 'string', default: 'http' } } });
  if (values.client !== 'http' && values.client !== 'fetch') throw new Error(`--client must be http or fetch, got ${values.client}`);
  const n = Number(values.requests);
  const threads = Number(values.threads);

  // Model-only: the engine the workers run, with their thread count, in one process.
  const engine = await FaceEngine.create({ intraOpThreads: threads });
  const photos = await faceCrops(engine);
  for (const p of photos.slice(0, 3)) await engine.analyze(p, { embed: true }); // warm-up
  const model: number[] = [];
  const modelOnly = async (i: number) => {
    const t0 = process.hrtime.bigint();
    await engine.analyze(photos[i % photos.length], { embed: true });
    model.push(ms(t0));
  };

  const service = await startService({ FACEPIPE_THREADS: String(threads), FACEPIPE_RATE_LIMIT: '0' });
  const latencies: number[] = [];
  let matched = 0;
  let enrolled = 0;
  try {
    const call = async (method: string, route: string, body?: FormData | object) => {
      const init: RequestInit = body instanceof FormData ? { method, body } : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
      const res = await fetch(service.base + route, init);
      const json = (await res.json()) as Record<string, unknown>;
      if (!res.ok) throw new Error(`${method} ${route} → ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
    const form = (photo: Buffer, fields: Record<string, string> = {}) => {
      const f = new FormData();
      f.append('photo', new Blob([photo]), 'photo.jpg');
      for (const [k, v] of Object.entries(fields)) f.append(k, v);
      return f;
    };
    await call('POST', '/v1/collections', { name: 'bench' });
    for (const [i, photo] of photos.entries()) {
      const { id } = await call('POST', '/v1/collections/bench/identities', { name: `person ${i}` });
      // A crop whose largest face is a sliver of a neighbour is refused; it still serves as a probe.
      if (await call('POST', `/v1/collections/bench/identities/${id}/faces`, form(photo)).then(() => true, () => false)) enrolled++;
    }
    const fields: Record<string, string> = values.exact ? { exact: 'true' } : {};
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const bodies = photos.map((p) => multipartBody(p, fields));
    const search = (i: number): Promise<unknown> =>
      values.client === 'http'
        ? postRaw(agent, `${service.base}/v1/collections/bench/search`, bodies[i % photos.length])
        : call('POST', '/v1/collections/bench/search', form(photos[i % photos.length], fields));
    for (let i = 0; i < 5; i++) await search(i); // warm-up
    for (let i = 0; i < n; i++) {
      await modelOnly(i);
      const t0 = process.hrtime.bigint();
      const result = (await search(i)) as { faces: { match: unknown }[] };
      latencies.push(ms(t0));
      if (result.faces.some((f) => f.match)) matched++;
    }
    agent.destroy();
  } finally {
    await service.stop();
    await engine.release();
  }
  const paired = latencies.map((l, i) => l - model[i]).sort((a, b) => a - b);

  model.sort((a, b) => a - b);
  latencies.sort((a, b) => a - b);
  const row = (label: string, xs: number[]) => `${label.padEnd(38)} p50 ${percentile(xs, 0.5).toFixed(1).padStart(6)} ms   p99 ${percentile(xs, 0.99).toFixed(1).padStart(6)} ms`;
  console.log(`machine: ${os.availableParallelism()} cores; onnxruntime threads per worker (and model-only): ${threads}; ${photos.length} one-face photos, ${enrolled} identities enrolled; ${values.exact ? 'exact scan' : 'HNSW'}`);
  console.log(row(`search over HTTP (${n} requests, ${values.client})`, latencies));
  console.log(row('model only (decode+detect+align+embed)', model));
  const overhead = percentile(latencies, 0.5) - percentile(model, 0.5);
  console.log(`overhead at p50: ${overhead.toFixed(1)} ms (target ≤ 10 ms); median per-photo difference ${percentile(paired, 0.5).toFixed(1)} ms; ${matched}/${n} searches matched`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
