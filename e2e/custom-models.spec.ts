/**
 * The service on models of the operator's choosing (FACEPIPE_MODEL_MANIFEST, FACEPIPE_MIN_FACE_SIZE)
 * through the real processes: the built-in detector with MobileFaceNet (128-d) from ../shared/models
 * as the embedder. The workers must load the manifest's models, the gateway must take its
 * threshold as the default, and a collection whose first photo has no face must still get the
 * embedder's dimension. Skipped (loudly) where ../shared/models is absent.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { allResults, api, startService, waitFor, type RunningService } from '@facepipe/testing';

const DEMO = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
const MOBILEFACENET = path.resolve(__dirname, '../../shared/models/mobilefacenet_128.onnx');
const BUILT_IN = path.resolve(__dirname, '../libs/face-engine/manifests/faceplugin.json');
const THRESHOLD = 0.45;

const have = existsSync(MOBILEFACENET);
if (!have) console.warn(`SKIPPED: e2e/custom-models.spec.ts needs ${MOBILEFACENET} (../shared/models); not found`);

(have ? describe : describe.skip)('a model manifest of the operator', () => {
  let service: RunningService;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'facepipe-manifest-'));
    const manifest = JSON.parse(readFileSync(BUILT_IN, 'utf8'));
    manifest.name = 'faceplugin-detector+mobilefacenet';
    manifest.embedder = { file: MOBILEFACENET, input: { width: 112, height: 112 }, pixels: { channelOrder: 'bgr', mean: 127.5, std: 127.5 }, dim: 128, flip: false, threshold: THRESHOLD };
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    service = await startService({ FACEPIPE_MODEL_MANIFEST: path.join(dir, 'manifest.json'), FACEPIPE_MIN_FACE_SIZE: '64' });
  }, 180_000);

  afterAll(async () => {
    await service?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = <T = any>(method: string, route: string, body?: unknown) => api<T>(service.base, method, route, body); // eslint-disable-line @typescript-eslint/no-explicit-any

  async function ingest(files: Record<string, Buffer>): Promise<{ key: string; status: string; faces: unknown[]; error?: { code: string } }[]> {
    const form = new FormData();
    for (const [key, data] of Object.entries(files)) form.append('photos', new Blob([data]), key);
    const { json } = await call<{ jobId: string }>('POST', '/v1/collections/custom/photos', form);
    await waitFor(`job ${json.jobId}`, 120_000, async () => (await call<{ state: string }>('GET', `/v1/jobs/${json.jobId}`)).json.state === 'completed');
    return (await allResults(service.base, json.jobId)) as never;
  }

  it("loads the manifest's models and threshold, and a faceless first photo gives the collection the embedder's dimension", async () => {
    expect((await call('POST', '/v1/collections', { name: 'custom' })).status).toBe(201);
    expect((await call<{ threshold: number }>('GET', '/v1/collections/custom')).json.threshold).toBe(THRESHOLD);

    const blank = await sharp({ create: { width: 320, height: 240, channels: 3, background: '#808080' } }).jpeg().toBuffer();
    expect(await ingest({ 'blank.jpg': blank })).toEqual([expect.objectContaining({ key: 'blank.jpg', status: 'done', faces: [] })]);
    const group = readFileSync(path.join(DEMO, 'sample1.jpg'));
    const [result] = await ingest({ 'group.jpg': group });
    expect({ status: result.status, error: result.error }).toEqual({ status: 'done', error: undefined });
    expect(result.faces.length).toBe(3); // the demo faces are 200–300 px: all above the 64 px floor
    expect((await call<{ photos: number; faces: number }>('GET', '/v1/collections/custom')).json).toMatchObject({ photos: 2, faces: 3 });

    // 1:1 and 1:N on the 128-d vectors, with the manifest's threshold as the default.
    const form = (fields: Record<string, Buffer>) => {
      const f = new FormData();
      for (const [name, data] of Object.entries(fields)) f.append(name, new Blob([data]), `${name}.jpg`);
      return f;
    };
    const verify = await call<{ similarity: number; match: boolean; threshold: number }>('POST', '/v1/verify', form({ a: group, b: group }));
    expect(verify.json).toMatchObject({ match: true, threshold: THRESHOLD });
    expect(verify.json.similarity).toBeGreaterThan(0.99);
    const { json: identity } = await call<{ id: string }>('POST', '/v1/collections/custom/identities', { name: 'Group' });
    expect((await call('POST', `/v1/collections/custom/identities/${identity.id}/faces?all=true`, form({ photo: group }))).status).toBe(201);
    const search = await call<{ threshold: number; faces: { match: { identityId: string; similarity: number } | null }[] }>('POST', '/v1/collections/custom/search', form({ photo: group }));
    expect(search.status).toBe(200);
    expect(search.json.threshold).toBe(THRESHOLD);
    expect(search.json.faces).toHaveLength(3);
    for (const face of search.json.faces) expect(face.match).toMatchObject({ identityId: identity.id });
  }, 240_000);
});
