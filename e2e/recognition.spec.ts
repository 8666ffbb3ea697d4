/**
 * The synchronous recognition calls end to end, through the real processes (gateway + detector,
 * embedder and matcher workers), real Redis, real models: identities and enrolment, 1:N search,
 * 1:1 verify, detect, the collection threshold, the quality floor, deletion of identities, and
 * that sync photos and jobs are not kept. One service for the whole file.
 *
 * The photos are single-face crops of the demo group photos, cut with sharp here. Two people recur
 * across the demo photos (found by the engine, similarity 0.72 and 0.47), which gives an enrolment
 * photo and a different probe photo for each; the stranger's best similarity to any demo face is
 * 0.15.
 */
import { type RunningService, startService, waitFor } from '@facepipe/testing';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

const DEMO = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
const SHARED_FACES = path.resolve(__dirname, '../../shared/faces');
/** The calls' timeout here: long enough for a loaded CI machine, short enough for the slow-URL test. */
const SYNC_TIMEOUT_MS = 12_000;

type Box = [number, number, number, number];
/** [demo photo, face box] as the engine finds them (x, y, w, h). */
const FACES: Record<string, [string, Box]> = {
  annaEnrol: ['sample1.jpg', [1456, 222, 235, 212]],
  annaProbe: ['sample3.jpg', [1076, 202, 232, 315]],
  bobEnrol: ['sample1.jpg', [823, 423, 216, 230]],
  bobProbe: ['sample4.jpg', [266, 194, 158, 253]],
  stranger: ['sample4.jpg', [1262, 163, 158, 232]],
  /** A profile: quality 0.00. */
  profile: ['sample2.jpg', [365, 123, 164, 295]],
};

/** The face with a margin of 30% of its size around it: one face per photo. */
async function crop(name: keyof typeof FACES): Promise<Buffer> {
  const [file, [x, y, w, h]] = FACES[name];
  const img = sharp(path.join(DEMO, file));
  const { width, height } = await img.metadata();
  const left = Math.max(0, Math.round(x - 0.3 * w)), top = Math.max(0, Math.round(y - 0.3 * h));
  const right = Math.min(width!, Math.round(x + 1.3 * w)), bottom = Math.min(height!, Math.round(y + 1.3 * h));
  return img.extract({ left, top, width: right - left, height: bottom - top }).jpeg({ quality: 92 }).toBuffer();
}

let service: RunningService;
let root: string;
const photos: Record<string, Buffer> = {};

interface Res<T = Json> {
  status: number;
  json: T;
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function api(method: string, route: string, body?: unknown): Promise<Res> {
  const init: RequestInit = { method };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) Object.assign(init, { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const res = await fetch(service.base + route, init);
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

function form(files: Record<string, Buffer>, fields: Record<string, string> = {}): FormData {
  const f = new FormData();
  for (const [field, bytes] of Object.entries(files)) f.append(field, new Blob([bytes]), `${field}.jpg`);
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  return f;
}

/** The face with the largest box (a crop may also show a sliver of a neighbour). */
const largest = (faces: Json[]): Json => faces.reduce((a, b) => (b.box[2] * b.box[3] > a.box[2] * a.box[3] ? b : a));

async function search(collection: string, photo: Buffer, fields: Record<string, string> = {}) {
  const res = await api('POST', `/v1/collections/${collection}/search`, form({ photo }, fields));
  expect(res.status).toBe(200);
  return res.json;
}

const ids: Record<string, string> = {};

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'facepipe-e2e-rec-'));
  for (const name of Object.keys(FACES)) {
    photos[name] = await crop(name);
    writeFileSync(path.join(root, `${name}.jpg`), photos[name]);
  }
  photos.blank = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#8899aa' } }).jpeg().toBuffer();
  const roots = [root, DEMO, ...(existsSync(SHARED_FACES) ? [SHARED_FACES] : [])];
  // No rate limit: this spec makes many calls in a row, and the limit has its own tests. A fetch
  // limit past the calls' timeout: a slow URL must be cut off by the caller's time left.
  service = await startService({
    FACEPIPE_PATH_ROOTS: roots.join(','),
    FACEPIPE_ALLOW_PRIVATE_URLS: 'true',
    FACEPIPE_RATE_LIMIT: '0',
    FACEPIPE_SYNC_TIMEOUT_MS: String(SYNC_TIMEOUT_MS),
    FACEPIPE_FETCH_TIMEOUT_MS: '120000',
  });
  expect((await api('POST', '/v1/collections', { name: 'rec' })).status).toBe(201);
  for (const [name, externalId] of [['Anna', 'emp-1'], ['Bob', 'emp-2']]) {
    const res = await api('POST', '/v1/collections/rec/identities', { name, externalId, metadata: { team: 'blue' } });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({ id: expect.stringMatching(/^i[0-9a-f]{24}$/), name, externalId, metadata: { team: 'blue' }, createdAt: expect.any(String) });
    ids[name] = res.json.id;
  }
}, 120_000);

afterAll(async () => {
  await service?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('enrolment', () => {
  it('enrols the face of an upload and of a server path', async () => {
    const anna = await api('POST', `/v1/collections/rec/identities/${ids.Anna}/faces`, form({ photo: photos.annaEnrol }));
    expect(anna.status).toBe(201);
    expect(anna.json).toEqual({ identityId: ids.Anna, faces: [{ faceId: expect.stringMatching(/^rec\.f[0-9a-f]{32}$/), box: expect.any(Array), score: expect.any(Number), quality: expect.any(Number) }] });
    expect(anna.json.faces[0].quality).toBeGreaterThan(0.5);

    const bob = await api('POST', `/v1/collections/rec/identities/${ids.Bob}/faces`, { path: path.join(root, 'bobEnrol.jpg') });
    expect(bob.status).toBe(201);
    expect(bob.json.faces).toHaveLength(1);

    // Enrolling the same photo again replaces its face rather than adding one.
    const again = await api('POST', `/v1/collections/rec/identities/${ids.Anna}/faces`, form({ photo: photos.annaEnrol }));
    expect(again.json.faces[0].faceId).toBe(anna.json.faces[0].faceId);

    const got = await api('GET', `/v1/collections/rec/identities/${ids.Anna}`);
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({ id: ids.Anna, name: 'Anna', externalId: 'emp-1', faces: [{ faceId: anna.json.faces[0].faceId, identityId: ids.Anna }] });
    expect((await api('GET', '/v1/collections/rec')).json).toMatchObject({ faces: 2, people: 0, threshold: 0.34 });
    // An enrolled face has a thumbnail, like an ingested one (the photo itself is not kept).
    const thumb = await fetch(`${service.base}/v1/faces/${anna.json.faces[0].faceId}/thumbnail`);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/jpeg');
    expect((await api('GET', '/v1/collections/rec/identities?externalId=emp-2')).json.items.map((i: Json) => i.id)).toEqual([ids.Bob]);
  });

  it('refuses a photo without a face, a profile, a non-image and an unknown identity, with clear codes', async () => {
    const enrol = (id: string, photo: Buffer) => api('POST', `/v1/collections/rec/identities/${id}/faces`, form({ photo }));
    const noFace = await enrol(ids.Anna, photos.blank);
    expect(noFace).toEqual({ status: 422, json: { error: { code: 'NO_FACE', message: expect.any(String) } } });
    const profile = await enrol(ids.Anna, photos.profile);
    expect(profile.status).toBe(422);
    expect(profile.json.error).toEqual({ code: 'FACE_QUALITY_TOO_LOW', message: expect.stringContaining('FACEPIPE_ENROLL_MIN_QUALITY') });
    const text = await enrol(ids.Anna, Buffer.from('this is not an image'));
    expect(text.status).toBe(415);
    expect(text.json.error.code).toBe('UNSUPPORTED_IMAGE_FORMAT');
    const unknown = await enrol('i000000000000000000000000', photos.annaEnrol);
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe('IDENTITY_NOT_FOUND');
    // Nothing was enrolled by any of them.
    expect((await api('GET', `/v1/collections/rec/identities/${ids.Anna}`)).json.faces).toHaveLength(1);
  });
});

describe('1:N search', () => {
  it("finds each enrolled person in another photo, and nobody for a stranger", async () => {
    const anna = await search('rec', photos.annaProbe);
    const face = largest(anna.faces);
    expect(face.match).toEqual({ identityId: ids.Anna, name: 'Anna', similarity: expect.any(Number) });
    expect(face.match.similarity).toBeGreaterThan(0.6);
    expect(face.candidates[0]).toEqual(face.match);
    expect(face.candidates.map((c: Json) => c.identityId)).toEqual([ids.Anna, ids.Bob]); // k=5, two identities
    expect(anna.threshold).toBe(0.34);

    const bob = largest((await search('rec', photos.bobProbe)).faces);
    expect(bob.match?.identityId).toBe(ids.Bob);

    const stranger = largest((await search('rec', photos.stranger)).faces);
    expect(stranger.match).toBeNull();
    expect(stranger.candidates.length).toBeGreaterThan(0);
    for (const c of stranger.candidates) expect(c.similarity).toBeLessThan(0.34);
  });

  it('takes k, an exact scan, a JSON path source, and answers a photo without faces with none', async () => {
    const one = largest((await search('rec', photos.annaProbe, { k: '1', exact: 'true' })).faces);
    const approx = largest((await search('rec', photos.annaProbe)).faces);
    expect(one.candidates).toHaveLength(1);
    expect(one.match.identityId).toBe(ids.Anna);
    expect(one.match.similarity).toBeCloseTo(approx.match.similarity, 3);

    const byPath = await api('POST', '/v1/collections/rec/search', { path: path.join(root, 'bobProbe.jpg'), k: 2 });
    expect(byPath.status).toBe(200);
    expect(largest(byPath.json.faces).match.identityId).toBe(ids.Bob);

    expect(await search('rec', photos.blank)).toEqual({ faces: [], threshold: 0.34 });
  });

  it('lists k identities even when one identity owns every one of the nearest faces', async () => {
    expect((await api('POST', '/v1/collections', { name: 'crowd' })).status).toBe(201);
    const crowd: Record<string, string> = {};
    for (const name of ['Crowd', 'Anna', 'Bob']) crowd[name] = (await api('POST', '/v1/collections/crowd/identities', { name })).json.id;
    // Crowd: Anna's face 12 times a photo, five photos (other sizes, other bytes): over the 50
    // faces a search of k = 3 first asks the index for, all nearer her than Bob's.
    let faces = 0;
    for (let v = 0; v < 5; v++) {
      const tile = await sharp(photos.annaEnrol).resize({ width: 200 + 10 * v }).jpeg().toBuffer();
      const { width, height } = await sharp(tile).metadata();
      const collage = await sharp({ create: { width: width! * 4, height: height! * 3, channels: 3, background: '#808080' } })
        .composite(Array.from({ length: 12 }, (_, i) => ({ input: tile, left: (i % 4) * width!, top: Math.floor(i / 4) * height! })))
        .jpeg()
        .toBuffer();
      const res = await api('POST', `/v1/collections/crowd/identities/${crowd.Crowd}/faces?all=true`, form({ photo: collage }));
      expect(res.status).toBe(201);
      faces += res.json.faces.length;
    }
    expect(faces).toBeGreaterThan(50);
    expect((await api('POST', `/v1/collections/crowd/identities/${crowd.Anna}/faces`, form({ photo: photos.annaEnrol }))).status).toBe(201);
    expect((await api('POST', `/v1/collections/crowd/identities/${crowd.Bob}/faces`, form({ photo: photos.bobEnrol }))).status).toBe(201);
    for (const fields of [{ k: '3', exact: 'true' }, { k: '3' }] as Record<string, string>[]) {
      const found = largest((await search('crowd', photos.annaProbe, fields)).faces);
      expect(found.candidates.map((c: Json) => c.name).sort()).toEqual(['Anna', 'Bob', 'Crowd']);
    }
  });

  it('decides match with the collection threshold (PATCH) or the request one', async () => {
    const patched = await api('PATCH', '/v1/collections/rec', { threshold: 0.8 });
    expect(patched).toEqual({ status: 200, json: expect.objectContaining({ name: 'rec', threshold: 0.8 }) });
    expect((await api('GET', '/v1/collections/rec')).json.threshold).toBe(0.8);

    const strict = largest((await search('rec', photos.annaProbe)).faces);
    expect(strict.match).toBeNull(); // similarity ≈ 0.72 < 0.8
    expect(strict.candidates[0].identityId).toBe(ids.Anna);
    const lenient = largest((await search('rec', photos.annaProbe, { threshold: '0.5' })).faces);
    expect(lenient.match?.identityId).toBe(ids.Anna);

    expect((await api('PATCH', '/v1/collections/rec', { threshold: null })).json.threshold).toBe(0.34);
    expect(largest((await search('rec', photos.annaProbe)).faces).match?.identityId).toBe(ids.Anna);
    expect((await api('PATCH', '/v1/collections/rec', { threshold: 2 })).status).toBe(400);
  });

  it('answers 404 for a collection that does not exist', async () => {
    const res = await api('POST', '/v1/collections/nowhere/search', form({ photo: photos.annaProbe }));
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('COLLECTION_NOT_FOUND');
  });
});

describe('verify and detect', () => {
  it('tells the same person from a different one', async () => {
    const same = await api('POST', '/v1/verify', form({ a: photos.annaEnrol, b: photos.annaProbe }));
    expect(same.status).toBe(200);
    expect(same.json).toEqual({ similarity: expect.any(Number), match: true, threshold: 0.34, faces: { a: 1, b: 1 } });
    expect(same.json.similarity).toBeGreaterThan(0.6);

    const different = await api('POST', '/v1/verify', { a: { path: path.join(root, 'annaEnrol.jpg') }, b: { path: path.join(root, 'stranger.jpg') } });
    expect(different.status).toBe(200);
    expect(different.json.match).toBe(false);
    expect(different.json.similarity).toBeLessThan(0.34);

    const noFace = await api('POST', '/v1/verify', form({ a: photos.annaEnrol, b: photos.blank }));
    expect(noFace.status).toBe(422);
    expect(noFace.json.error).toEqual({ code: 'NO_FACE', message: 'No face found in photo b' });
    expect((await api('POST', '/v1/verify', form({ a: photos.annaEnrol }))).status).toBe(400);
  });

  it('finds the faces of a group photo with boxes, landmarks and quality; none in a blank one', async () => {
    const res = await api('POST', '/v1/detect', form({ photo: await sharp(path.join(DEMO, 'sample1.jpg')).toBuffer() }));
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ width: 1920, height: 1280 });
    expect(res.json.faces).toHaveLength(3);
    for (const f of res.json.faces) {
      expect(f.box).toHaveLength(4);
      expect(f.landmarks).toHaveLength(5);
      expect(f.quality).toBeGreaterThanOrEqual(0);
      expect(f.quality).toBeLessThanOrEqual(1);
    }
    expect((await api('POST', '/v1/detect', form({ photo: photos.blank }))).json.faces).toEqual([]);
    const bad = await api('POST', '/v1/detect', form({ photo: Buffer.from('GIF89a but not really') }));
    expect(bad.status).toBeGreaterThanOrEqual(400);
    expect(bad.status).toBeLessThan(500);
  });

  it("answers URLs that never respond with 502 URL_FETCH_FAILED within the call's timeout, holding no detector meanwhile", async () => {
    const server = http.createServer(() => undefined); // takes the request, never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hang.jpg`;
      const started = Date.now();
      // More stalled URLs than the detectors have slots …
      const stalled = [1, 2, 3, 4].map(() => api('POST', '/v1/detect', { url }));
      await new Promise((r) => setTimeout(r, 500));
      // … and another caller's calls are still answered at their usual speed.
      for (let i = 0; i < 3; i++) {
        const t = Date.now();
        expect((await api('POST', '/v1/detect', { path: path.join(root, 'stranger.jpg') })).status).toBe(200);
        expect(Date.now() - t).toBeLessThan(5_000);
      }
      for (const res of await Promise.all(stalled)) {
        expect(res.status).toBe(502);
        expect(res.json.error.code).toBe('URL_FETCH_FAILED');
      }
      expect(Date.now() - started).toBeLessThan(SYNC_TIMEOUT_MS);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  }, 60_000);

  it('fetches a URL source', async () => {
    const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(photos.stranger));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/stranger.jpg`;
      const res = await api('POST', '/v1/detect', { url });
      expect(res.status).toBe(200);
      expect(res.json.faces.length).toBeGreaterThan(0);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

describe('identities', () => {
  it('enrols every good face of a group photo with all=true, and erases them with the identity', async () => {
    const group = (await api('POST', '/v1/collections/rec/identities', { name: 'Group' })).json.id;
    const enrolled = await api('POST', `/v1/collections/rec/identities/${group}/faces?all=true`, { path: path.join(DEMO, 'sample1.jpg') });
    expect(enrolled.status).toBe(201);
    expect(enrolled.json.faces).toHaveLength(3); // qualities 0.83, 0.46, 0.42: all above the floor
    // Three faces of one identity still make one candidate (its best similarity).
    const candidates: string[] = largest((await search('rec', photos.stranger)).faces).candidates.map((c: Json) => c.identityId);
    expect(candidates).toContain(group);
    expect(new Set(candidates).size).toBe(candidates.length);

    // The same photo again, its largest face only: it replaces the three, it does not add to them.
    const counted = (await api('GET', '/v1/collections/rec')).json.faces;
    const again = await api('POST', `/v1/collections/rec/identities/${group}/faces`, { path: path.join(DEMO, 'sample1.jpg') });
    expect(again.status).toBe(201);
    expect(again.json.faces).toHaveLength(1);
    expect((await api('GET', `/v1/collections/rec/identities/${group}`)).json.faces.map((f: Json) => f.faceId)).toEqual([again.json.faces[0].faceId]);
    expect((await api('GET', '/v1/collections/rec')).json.faces).toBe(counted - 2);
    // And with all=true once more: the three are back, once each.
    expect((await api('POST', `/v1/collections/rec/identities/${group}/faces?all=true`, { path: path.join(DEMO, 'sample1.jpg') })).json.faces).toHaveLength(3);
    expect((await api('GET', `/v1/collections/rec/identities/${group}`)).json.faces).toHaveLength(3);

    const erased = await api('DELETE', `/v1/collections/rec/identities/${group}?erase=true`);
    expect(erased).toEqual({ status: 200, json: { id: group, erased: true, faces: 3 } });
    expect((await fetch(`${service.base}/v1/faces/${enrolled.json.faces[0].faceId}/thumbnail`)).status).toBe(404);
    expect((await api('GET', `/v1/collections/rec/identities/${group}`)).status).toBe(404);
    expect(largest((await search('rec', photos.stranger)).faces).candidates.map((c: Json) => c.identityId)).not.toContain(group);
    expect((await api('GET', '/v1/collections/rec')).json).toMatchObject({ faces: 2, people: 0 });
  });

  it('detaches the faces of a deleted identity into an unknown person', async () => {
    const carl = (await api('POST', '/v1/collections/rec/identities', { name: 'Carl', externalId: 'emp-3' })).json.id;
    expect((await api('POST', `/v1/collections/rec/identities/${carl}/faces`, form({ photo: photos.stranger }))).status).toBe(201);
    expect(largest((await search('rec', photos.stranger)).faces).match?.identityId).toBe(carl);

    const deleted = await api('DELETE', `/v1/collections/rec/identities/${carl}`);
    expect(deleted).toEqual({ status: 200, json: { id: carl, erased: false, faces: 1, personId: expect.stringMatching(/^person_/) } });
    expect(largest((await search('rec', photos.stranger)).faces).match).toBeNull();
    const people = await api('GET', '/v1/collections/rec/people');
    expect(people.json.items.map((p: Json) => p.personId)).toContain(deleted.json.personId);
    // The externalId is free again.
    expect((await api('POST', '/v1/collections/rec/identities', { name: 'Carl 2', externalId: 'emp-3' })).status).toBe(201);
  });
});

describe('what a sync call leaves behind', () => {
  it('keeps no photo and no finished stage job', async () => {
    const blobs = path.join(service.dataDir, 'blobs');
    const kept = () => (existsSync(blobs) ? readdirSync(blobs, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && !e.parentPath.includes('thumbnails')) : []);
    // Deleting happens once the answer is sent: allow a moment.
    await waitFor('the uploads to be deleted', 5_000, async () => kept().length === 0);
    const { Redis } = await import('ioredis');
    const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    try {
      for (const queue of ['detect', 'embed', 'match']) expect({ queue, completed: await redis.zcard(`${service.prefix}:${queue}:completed`) }).toEqual({ queue, completed: 0 });
    } finally {
      redis.disconnect();
    }
  });
});

describe('priority over ingest', () => {
  it('answers a search while a bulk ingest is still queued', async () => {
    expect((await api('POST', '/v1/collections', { name: 'busy' })).status).toBe(201);
    const someone = (await api('POST', '/v1/collections/busy/identities', { name: 'Anna' })).json.id;
    expect((await api('POST', `/v1/collections/busy/identities/${someone}/faces`, form({ photo: photos.annaEnrol }))).status).toBe(201);
    const items = Array.from({ length: 40 }, (_, i) => ({ key: `bulk-${i}.jpg`, path: path.join(DEMO, `sample${(i % 6) + 1}.jpg`) }));
    const job = await api('POST', '/v1/collections/busy/photos', { items });
    expect(job.status).toBe(202);
    const found = largest((await search('busy', photos.annaProbe)).faces);
    expect(found.match?.identityId).toBe(someone); // and not one of the ingested (unknown) faces
    const progress = (await api('GET', `/v1/jobs/${job.json.jobId}`)).json;
    expect(progress.done + progress.failed).toBeLessThan(40);
  });
});

const shared = existsSync(SHARED_FACES) ? describe : describe.skip;
if (!existsSync(SHARED_FACES)) console.warn(`recognition.spec: ${SHARED_FACES} is absent; skipping the tests on real portraits`);

shared('on real portraits (../shared/faces)', () => {
  it('recognises a person enrolled from one photo in another one', async () => {
    expect((await api('POST', '/v1/collections', { name: 'portraits' })).status).toBe(201);
    const enrolled: Record<string, string> = {};
    for (const [name, file] of [['Obama', 'facerec_obama/examples__obama.jpg'], ['Biden', 'facerec_biden/examples__biden.jpg']]) {
      const id = (await api('POST', '/v1/collections/portraits/identities', { name })).json.id;
      expect((await api('POST', `/v1/collections/portraits/identities/${id}/faces`, { path: path.join(SHARED_FACES, file) })).status).toBe(201);
      enrolled[name] = id;
    }
    const probe = await api('POST', '/v1/collections/portraits/search', { path: path.join(SHARED_FACES, 'facerec_obama/examples__obama2.jpg') });
    expect(largest(probe.json.faces).match?.identityId).toBe(enrolled.Obama);
    const biden = await api('POST', '/v1/collections/portraits/search', { path: path.join(SHARED_FACES, 'facerec_biden/examples__knn_examples__train__biden__biden2.jpg') });
    expect(largest(biden.json.faces).match?.identityId).toBe(enrolled.Biden);
    const verify = await api('POST', '/v1/verify', { a: { path: path.join(SHARED_FACES, 'facerec_obama/examples__obama.jpg') }, b: { path: path.join(SHARED_FACES, 'facerec_biden/examples__biden.jpg') } });
    expect(verify.json.match).toBe(false);
  });
});
