/**
 * Fuzz (issue 6): 1,800 random or mutated image bodies through the real upload route, then the
 * engine's decoder on the very blobs the gateway stored. Every request is answered, every body is
 * stored byte for byte, every decode either yields the pixels or fails with one of the engine's
 * stable codes, and memory stays bounded. (200 more go through the real workers:
 * e2e/bad-input.spec.ts.) FACEPIPE_FUZZ_SEED replays or varies the bodies.
 */
import { photoJobId } from '@facepipe/contracts';
import { FaceEngineError, decodeImage } from '@facepipe/face-engine';
import { BlobStore } from '@facepipe/pipeline';
import { fuzzBodies, type FuzzBody } from '@facepipe/testing';
import path from 'node:path';
import { type TestGateway, startTestGateway } from '../testing/test-gateway';

const BODIES = 1800;
const SEED = Number(process.env.FACEPIPE_FUZZ_SEED || 6);
const PER_REQUEST = 60;
const DECODE_CODES = ['IMAGE_EMPTY', 'UNSUPPORTED_IMAGE_FORMAT', 'IMAGE_DECODE_FAILED', 'IMAGE_TOO_LARGE'];
const MiB = 1024 * 1024;
/** RSS growth allowed from after the warm-up to the end (sharp's caches are bounded; a leak is not). */
const RSS_GROWTH_LIMIT = 128 * MiB;

describe(`upload + decode fuzz (${BODIES} bodies, seed ${SEED})`, () => {
  let gw: TestGateway;
  let bodies: FuzzBody[];

  beforeAll(async () => {
    bodies = await fuzzBodies(BODIES, SEED);
    gw = await startTestGateway();
    expect((await gw.fetch('/v1/collections', { method: 'POST', json: { name: 'fuzz' } })).status).toBe(201);
  });

  afterAll(async () => {
    await gw?.close();
  });

  it('takes every body, stores it exactly, and decodes it or fails with a stable code, in bounded memory', async () => {
    const started = Date.now();
    for (let i = 0; i < bodies.length; i += PER_REQUEST) {
      const form = new FormData();
      for (const b of bodies.slice(i, i + PER_REQUEST)) form.append('photos', new Blob([b.bytes]), b.name);
      const res = await gw.fetch('/v1/collections/fuzz/photos', { method: 'POST', body: form });
      expect({ batch: i, status: res.status }).toEqual({ batch: i, status: 202 });
    }
    const uploadMs = Date.now() - started;

    const blobs = new BlobStore(path.join(gw.dataDir, 'blobs'));
    const outcomes: Record<string, number> = {};
    let warmRss = 0;
    let peakRss = 0;
    for (const [i, body] of bodies.entries()) {
      const job = await gw.detectQueue.getJob(photoJobId('fuzz', body.name));
      expect(job?.data.source.kind).toBe('blob');
      const stored = await blobs.read(job!.data.source.blobId);
      expect(stored.equals(body.bytes)).toBe(true);
      let outcome: string;
      try {
        const image = await decodeImage(stored);
        expect(image.data.length).toBe(image.width * image.height * 3);
        outcome = 'decoded';
      } catch (err) {
        if (!(err instanceof FaceEngineError) || !DECODE_CODES.includes(err.code)) throw new Error(`${body.name}: unexpected ${String(err)}`);
        outcome = err.code;
      }
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      if (body.name.includes('-original.')) expect(`${body.name}: ${outcome}`).toBe(`${body.name}: decoded`);
      if (i === 200) warmRss = process.memoryUsage().rss;
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }
    const endRss = process.memoryUsage().rss;
    const mb = (n: number) => `${(n / MiB).toFixed(0)} MiB`;
    console.log(
      `fuzz: ${BODIES} bodies (seed ${SEED}) uploaded in ${uploadMs} ms, decoded in ${Date.now() - started - uploadMs} ms; outcomes ${JSON.stringify(outcomes)}; ` +
        `RSS after warm-up ${mb(warmRss)}, peak ${mb(peakRss)}, end ${mb(endRss)}`,
    );
    // The mix exercises every path: pixels, refused headers, damaged bodies and bombs.
    for (const code of ['decoded', 'UNSUPPORTED_IMAGE_FORMAT', 'IMAGE_DECODE_FAILED', 'IMAGE_TOO_LARGE']) expect(outcomes[code]).toBeGreaterThan(10);
    expect(endRss - warmRss).toBeLessThan(RSS_GROWTH_LIMIT);
    expect((await gw.fetch('/healthz')).status).toBe(200);
    expect((await gw.fetch('/v1/collections/fuzz')).status).toBe(200);
  }, 150_000);
});
