/**
 * People, reclustering, thumbnails and erasure through the real processes (gateway + workers as
 * `npm start` runs them), real Redis, real models and the demo photos. The same photo is uploaded
 * under two keys, so its faces recur: they form people of two faces.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import sharp from 'sharp';
import { REDIS_URL, api as call, startService, waitFor, type RunningService } from '@facepipe/testing';

const DEMO = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
const C = 'ppl';

interface Person { personId: string; faces: number; representativeFaceId: string }
interface Face { faceId: string; photoKey: string; personId?: string; identityId?: string; pinned: boolean }

let service: RunningService;
let redis: Redis;

beforeAll(async () => {
  // The demo folder is a path root: the in-flight test submits by path (an upload's blob goes with its collection).
  service = await startService({ FACEPIPE_PATH_ROOTS: DEMO });
  redis = new Redis(REDIS_URL);
});

afterAll(async () => {
  redis?.disconnect();
  await service?.stop();
});

const api = <T = any>(method: string, route: string, body?: unknown) => call<T>(service.base, method, route, body); // eslint-disable-line @typescript-eslint/no-explicit-any

async function upload(collection: string, files: [file: string, key: string][]): Promise<string> {
  const form = new FormData();
  for (const [file, key] of files) form.append('photos', new Blob([readFileSync(path.join(DEMO, file))]), key);
  const res = await api<{ jobId: string }>('POST', `/v1/collections/${collection}/photos`, form);
  expect(res.status).toBe(202);
  return res.json.jobId;
}

async function settled(jobId: string): Promise<void> {
  await waitFor(`job ${jobId}`, 180_000, async () => (await api<{ state: string }>('GET', `/v1/jobs/${jobId}`)).json.state === 'completed');
}

async function allPeople(collection: string, limit = 100): Promise<Person[]> {
  const out: Person[] = [];
  let cursor: string | undefined;
  do {
    const page = await api<{ items: Person[]; next?: string }>('GET', `/v1/collections/${collection}/people?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(page.status).toBe(200);
    out.push(...page.json.items);
    cursor = page.json.next;
  } while (cursor);
  return out;
}

async function facesOf(collection: string, personId: string): Promise<Face[]> {
  const res = await api<{ items: Face[] }>('GET', `/v1/collections/${collection}/people/${personId}/faces?limit=1000`);
  expect(res.status).toBe(200);
  return res.json.items;
}

/** person id → its sorted face ids. */
async function peopleMap(collection: string): Promise<Map<string, string[]>> {
  const map = new Map<string, string[]>();
  for (const p of await allPeople(collection)) map.set(p.personId, (await facesOf(collection, p.personId)).map((f) => f.faceId).sort());
  return map;
}

async function recluster(collection: string, body: unknown): Promise<{ state: string; faces: number; changed: number; people: number }> {
  const started = await api<{ jobId: string }>('POST', `/v1/collections/${collection}/recluster`, body);
  expect(started.status).toBe(202);
  return waitFor('the recluster', 60_000, async () => {
    const s = await api<{ state: string; faces: number; changed: number; people: number }>('GET', `/v1/collections/${collection}/recluster/${started.json.jobId}`);
    expect(s.status).toBe(200);
    return s.json.state === 'completed' || s.json.state === 'failed' ? s.json : undefined;
  });
}

const blobFile = (file: string) => {
  const id = createHash('sha256').update(readFileSync(path.join(DEMO, file))).digest('hex');
  return path.join(service.dataDir, 'blobs', id.slice(0, 2), id);
};

async function thumbnail(faceId: string) {
  const res = await fetch(`${service.base}/v1/faces/${faceId}/thumbnail`);
  return { status: res.status, type: res.headers.get('content-type'), body: Buffer.from(await res.arrayBuffer()) };
}

async function drained(): Promise<void> {
  const queues = ['detect', 'embed', 'match'].map((q) => new Queue(q, { connection: redis, prefix: service.prefix }));
  try {
    await waitFor('the pipeline to drain', 60_000, async () => {
      const counts = await Promise.all(queues.map((q) => q.getJobCounts('waiting', 'prioritized', 'active', 'delayed')));
      return counts.every((c) => Object.values(c).every((n) => n === 0));
    });
  } finally {
    await Promise.all(queues.map((q) => q.close()));
  }
}

it('lists people, merges, moves, names, reclusters keeping the manual decisions, and erases', async () => {
  expect((await api('POST', '/v1/collections', { name: C })).status).toBe(201);
  const jobId = await upload(C, [
    ['sample1.jpg', 'one-a.jpg'],
    ['sample1.jpg', 'one-b.jpg'],
    ['sample2.jpg', 'two.jpg'],
    ['sample3.jpg', 'three.jpg'],
  ]);
  await settled(jobId);
  // ── people: the three faces of sample1 recur under two keys (a person of two faces each) ──
  const people = await allPeople(C, 3); // pages of 3
  expect(new Set(people.map((p) => p.personId)).size).toBe(people.length);
  expect((await api('GET', `/v1/collections/${C}`)).json).toEqual({ name: C, createdAt: expect.any(String), photos: 4, faces: 12, people: people.length, threshold: 0.34 });
  expect(people.reduce((n, p) => n + p.faces, 0)).toBe(12);
  expect(people.map((p) => p.faces)).toEqual([...people.map((p) => p.faces)].sort((a, b) => b - a)); // most faces first
  const keysOf = new Map<string, string[]>();
  for (const p of people) keysOf.set(p.personId, (await facesOf(C, p.personId)).map((f) => f.photoKey).sort());
  // (One of them is in sample3 too: the demo photos share a person.)
  const pairs = people.filter((p) => ['one-a.jpg', 'one-b.jpg'].every((k) => keysOf.get(p.personId)!.includes(k)));
  expect(pairs).toHaveLength(3);
  const pure = pairs.filter((p) => p.faces === 2);
  expect(pure.length).toBeGreaterThanOrEqual(2);
  const singles = people.filter((p) => p.faces === 1);
  expect((await api('GET', `/v1/collections/${C}/people/person_nobody/faces`)).json.error.code).toBe('PERSON_NOT_FOUND');
  expect((await api('GET', `/v1/collections/${C}/people?cursor=garbage`)).status).toBe(400);
  expect((await api('GET', `/v1/collections/${C}/people?limt=5`)).json.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'limt' });

  // ── thumbnails: the aligned crop, as a 112×112 JPEG ───────────────────────────────────────
  const thumb = await thumbnail(pairs[0].representativeFaceId);
  expect(thumb.status).toBe(200);
  expect(thumb.type).toBe('image/jpeg');
  expect(await sharp(thumb.body).metadata()).toMatchObject({ format: 'jpeg', width: 112, height: 112 });
  expect((await thumbnail(`${C}.f${'0'.repeat(32)}`)).status).toBe(404);
  expect((await thumbnail('not-a-face-id')).status).toBe(404);

  // ── merge two singles of sample2; move a single of sample3 into a pair; another to a new person ──
  const singleOf = async (key: string) => {
    const out: { person: Person; face: Face }[] = [];
    for (const p of singles) {
      const [face] = await facesOf(C, p.personId);
      if (face.photoKey === key) out.push({ person: p, face });
    }
    return out;
  };
  const [s1, s2] = await singleOf('two.jpg');
  const [t1, t2] = await singleOf('three.jpg');
  const self = await api('POST', `/v1/collections/${C}/people/merge`, { ids: [s1.person.personId, s1.person.personId] });
  expect([self.status, self.json.error.code, self.json.error.field]).toEqual([400, 'VALIDATION_FAILED', 'ids']);
  expect((await facesOf(C, s1.person.personId)).every((f) => !f.pinned)).toBe(true); // not pinned by a merge that was none
  const merged = await api<{ personId: string; faces: number }>('POST', `/v1/collections/${C}/people/merge`, { ids: [s1.person.personId, s2.person.personId] });
  expect(merged.status).toBe(200);
  expect(merged.json.faces).toBe(2);
  const S = merged.json.personId;
  expect((await facesOf(C, S)).every((f) => f.pinned)).toBe(true);

  const P = pure[0].personId;
  const moved = await api('POST', `/v1/collections/${C}/faces/${t1.face.faceId}/move`, { personId: P });
  expect(moved.json).toEqual({ faceId: t1.face.faceId, personId: P });
  const alone = await api<{ personId: string }>('POST', `/v1/collections/${C}/faces/${t2.face.faceId}/move`, { newPerson: true });
  expect(alone.status).toBe(200);
  const N = alone.json.personId;
  expect((await api('POST', `/v1/collections/${C}/faces/${t2.face.faceId}/move`, { personId: 'person_nobody' })).json.error.code).toBe('PERSON_NOT_FOUND');
  expect((await api('POST', `/v1/collections/${C}/faces/${t2.face.faceId}/move`, {})).json.error.code).toBe('VALIDATION_FAILED');

  // ── name a pair into an identity: it leaves the people list ───────────────────────────────
  const named = pure[1].personId;
  const namedFaces = (await facesOf(C, named)).map((f) => f.faceId);
  expect((await api('POST', `/v1/collections/${C}/people/${named}/name`, { identityId: 'i-missing' })).json.error.code).toBe('IDENTITY_NOT_FOUND');
  const identity = await api<{ identityId: string; name: string; faces: number }>('POST', `/v1/collections/${C}/people/${named}/name`, { name: 'Alice' });
  expect(identity.status).toBe(200);
  expect(identity.json).toMatchObject({ name: 'Alice', faces: 2 });
  expect((await api('GET', `/v1/collections/${C}/people/${named}/faces`)).status).toBe(404);

  const before = await peopleMap(C);
  expect(before.has(named)).toBe(false);
  expect(before.get(S)).toEqual([s1.face.faceId, s2.face.faceId].sort());
  expect(before.get(P)).toContain(t1.face.faceId);
  expect(before.get(N)).toEqual([t2.face.faceId]);
  expect((await api('GET', `/v1/collections/${C}`)).json).toMatchObject({ faces: 12, people: before.size });

  // ── recluster at the ingest threshold: the people are what they were ─────────────────────
  const same = await recluster(C, {});
  expect(same).toMatchObject({ state: 'completed', faces: 10, changed: 0, people: before.size });
  expect(await peopleMap(C)).toEqual(before);

  // ── recluster where every face is every face's neighbour: all unknown faces form one cluster.
  // Every manual decision stays (P: its pair and the face moved into it, pinned by the move; the
  // merge S; N), and the pinned faces pull no other face into their person: the faces no human
  // decided about become one person of their own ──
  const all = await recluster(C, { eps: -1, minFaces: 2 });
  expect(all.state).toBe('completed');
  expect(all.changed).toBeGreaterThan(0);
  const after = await peopleMap(C);
  expect(after.get(P)).toEqual(before.get(P)); // the moved face and the pair it joined
  expect(after.get(N)).toEqual([t2.face.faceId]); // the face moved to a person of its own
  expect(after.get(S)).toEqual([s1.face.faceId, s2.face.faceId].sort()); // the merge holds
  const undecided = [...before.entries()].filter(([id]) => ![P, N, S].includes(id)).flatMap(([, faces]) => faces).sort();
  expect(undecided).toHaveLength(10 - 6);
  expect([...after.entries()].filter(([id]) => ![P, N, S].includes(id)).map(([, faces]) => faces)).toEqual([undecided]);
  for (const id of namedFaces) for (const faces of after.values()) expect(faces).not.toContain(id); // the identity was not touched
  expect((await api('GET', `/v1/collections/${C}`)).json).toMatchObject({ faces: 12, people: 4 });

  // ── a default recluster undoes the loose one: the faces that had P only from it leave P (no
  // cluster apart from P's pinned faces keeps P's id), and the people are again what they were ──
  expect(await recluster(C, {})).toMatchObject({ state: 'completed', faces: 10 });
  const undone = await peopleMap(C);
  const groups = (m: Map<string, string[]>) => [...m.values()].map((faces) => faces.join()).sort();
  expect(groups(undone)).toEqual(groups(before));
  for (const id of [P, N, S]) expect(undone.get(id)).toEqual(before.get(id));
  expect((await api('GET', `/v1/collections/${C}`)).json).toMatchObject({ faces: 12, people: before.size });

  // ── erase a photo: faces, thumbnails and results go; the shared upload stays until its last photo goes ──
  const oneA = (await api<{ items: { key: string; faces: { faceId: string }[] }[] }>('GET', `/v1/jobs/${jobId}/results`)).json.items.find((i) => i.key === 'one-a.jpg')!;
  const oneAFaces = oneA.faces.map((f) => f.faceId);
  expect(oneAFaces).toHaveLength(3);
  expect((await thumbnail(oneAFaces[0])).status).toBe(200);
  const erased = await api('DELETE', `/v1/collections/${C}/photos/one-a.jpg`);
  expect(erased.json).toEqual({ collection: C, key: 'one-a.jpg', faces: 3 });
  for (const id of oneAFaces) expect((await thumbnail(id)).status).toBe(404);
  for (const faces of (await peopleMap(C)).values()) for (const id of oneAFaces) expect(faces).not.toContain(id);
  expect((await api('GET', `/v1/collections/${C}`)).json).toMatchObject({ photos: 3, faces: 9 });
  const results = (await api<{ items: { key: string }[] }>('GET', `/v1/jobs/${jobId}/results`)).json.items.map((i) => i.key);
  expect(results).not.toContain('one-a.jpg');
  expect(existsSync(blobFile('sample1.jpg'))).toBe(true); // one-b.jpg has the same bytes
  expect((await api('DELETE', `/v1/collections/${C}/photos/one-a.jpg`)).json.error.code).toBe('PHOTO_NOT_FOUND');
  expect((await api('DELETE', `/v1/collections/${C}/photos/one-b.jpg`)).json.faces).toBe(3);
  expect(existsSync(blobFile('sample1.jpg'))).toBe(false);
  expect((await api('GET', `/v1/collections/${C}`)).json).toMatchObject({ photos: 2, faces: 6 });

  // ── delete the collection: nothing of it is left anywhere ─────────────────────────────────
  const remaining = [...(await peopleMap(C)).values()].flat();
  expect(remaining.length).toBeGreaterThan(0);
  const dropped = await api('DELETE', `/v1/collections/${C}`);
  expect(dropped.status).toBe(200);
  expect(dropped.json).toEqual({ name: C, faces: 6 });
  expect((await api('GET', `/v1/collections/${C}`)).status).toBe(404);
  expect((await api('GET', `/v1/collections/${C}/people`)).json.error.code).toBe('COLLECTION_NOT_FOUND');
  expect((await api('GET', `/v1/jobs/${jobId}`)).status).toBe(404);
  expect((await api('DELETE', `/v1/collections/${C}`)).status).toBe(404);
  for (const id of [...remaining, ...namedFaces]) expect((await thumbnail(id)).status).toBe(404);
  for (const file of ['sample2.jpg', 'sample3.jpg']) expect(existsSync(blobFile(file))).toBe(false);
  expect(existsSync(path.join(service.dataDir, 'blobs', 'thumbnails', C))).toBe(false);
  expect(existsSync(path.join(service.dataDir, 'index', C))).toBe(false);
  expect(await redis.keys(`${service.prefix}:collection:${C}:*`)).toEqual([]);

  // The name is free again, and the new collection starts empty.
  expect((await api('POST', '/v1/collections', { name: C })).status).toBe(201);
  expect((await api('GET', `/v1/collections/${C}`)).json).toMatchObject({ photos: 0, faces: 0, people: 0 });
  expect(await allPeople(C)).toEqual([]);
  for (const id of remaining) expect((await thumbnail(id)).status).toBe(404);
  // A photo of the deleted namesake (its finished detect job is still kept) is not this collection's.
  expect((await api('DELETE', `/v1/collections/${C}/photos/two.jpg`)).json.error.code).toBe('PHOTO_NOT_FOUND');
});

it('does not bring a deleted collection back through photos still in flight, even into a namesake created at once', async () => {
  expect((await api('POST', '/v1/collections', { name: 'inflight' })).status).toBe(201);
  const files = ['sample4.jpg', 'sample5.jpg', 'sample6.jpg'];
  // The detectors pause, so the photos are certainly still in flight when the namesake is created.
  const detect = new Queue('detect', { connection: redis, prefix: service.prefix });
  await detect.pause();
  try {
    // By path: an upload's blob is deleted with its collection, and the detector would fail the photo for that alone.
    const items = [...files, ...files, ...files].map((f, i) => ({ key: `${i}-${f}`, path: path.join(DEMO, f) }));
    expect((await api('POST', '/v1/collections/inflight/photos', { items })).status).toBe(202);
    expect((await api('DELETE', '/v1/collections/inflight')).status).toBe(200);
    expect((await api('GET', '/v1/collections/inflight')).status).toBe(404);
    // Created again before the old photos have left the pipeline: they belong to the deleted one.
    expect((await api('POST', '/v1/collections', { name: 'inflight' })).status).toBe(201);
    const waiting = await detect.getJobCounts('waiting', 'prioritized', 'paused');
    expect(Object.values(waiting).reduce((a, b) => a + b, 0)).toBe(9);
  } finally {
    await detect.resume();
    await detect.close();
  }
  await drained();
  expect((await api('GET', '/v1/collections/inflight')).json).toMatchObject({ photos: 0, faces: 0, people: 0 });
  expect(await allPeople('inflight')).toEqual([]);
  const thumbs = path.join(service.dataDir, 'blobs', 'thumbnails', 'inflight');
  // Crops of in-flight photos never land in the live generation of the re-created collection.
  const generations = existsSync(thumbs) ? readdirSync(thumbs) : [];
  const live = JSON.parse((await redis.hget(`${service.prefix}:collections`, 'inflight'))!).createdAt.replace(/[^0-9A-Za-z]/g, '');
  expect(generations).not.toContain(`g${live}`);
  // Nor do they stay in the deleted one's: a crop written after the delete dropped the folder is removed by its writer.
  expect(generations).toEqual([]);
});

it('serves no thumbnail of a face the index no longer holds, though its crop is still on disk', async () => {
  expect((await api('POST', '/v1/collections', { name: 'swap' })).status).toBe(201);
  const first = await upload('swap', [['sample1.jpg', 'swap.jpg']]);
  await settled(first);
  type Result = { items: { faces: { faceId: string; box: [number, number, number, number] }[] }[] };
  const before = (await api<Result>('GET', `/v1/jobs/${first}/results`)).json.items[0].faces;
  expect(before.length).toBeGreaterThanOrEqual(2);
  for (const f of before) expect((await thumbnail(f.faceId)).status).toBe(200);
  const crops = readdirSync(path.join(service.dataDir, 'blobs', 'thumbnails', 'swap'), { recursive: true }).filter((f) => String(f).endsWith('.jpg'));
  expect(crops).toHaveLength(before.length);

  // The same key again, now a crop of the photo around its first face only: the others leave the index.
  const [x, y, w, h] = before[0].box;
  const meta = await sharp(path.join(DEMO, 'sample1.jpg')).metadata();
  const left = Math.max(0, Math.round(x - w * 0.6)), top = Math.max(0, Math.round(y - h * 0.6));
  const one = await sharp(path.join(DEMO, 'sample1.jpg'))
    .extract({ left, top, width: Math.min(meta.width! - left, Math.round(w * 2.2)), height: Math.min(meta.height! - top, Math.round(h * 2.2)) })
    .jpeg()
    .toBuffer();
  const form = new FormData();
  form.append('photos', new Blob([one]), 'swap.jpg');
  const second = await api<{ jobId: string }>('POST', '/v1/collections/swap/photos', form);
  await settled(second.json.jobId);
  const after = (await api<Result>('GET', `/v1/jobs/${second.json.jobId}/results`)).json.items[0].faces.map((f) => f.faceId);
  expect(after).toHaveLength(1);
  expect((await api('GET', '/v1/collections/swap')).json).toMatchObject({ photos: 1, faces: 1 });
  const gone = before.map((f) => f.faceId).filter((id) => !after.includes(id));
  expect(gone.length).toBe(before.length - 1);
  // Their crops are still files (the detector wrote them, the matcher dropped the faces) …
  expect(readdirSync(path.join(service.dataDir, 'blobs', 'thumbnails', 'swap'), { recursive: true }).filter((f) => String(f).endsWith('.jpg'))).toHaveLength(before.length);
  // … but the route answers from the index.
  for (const id of gone) expect((await thumbnail(id)).status).toBe(404);
  expect((await thumbnail(after[0])).status).toBe(200);
});

it('deleting an identity while a person is named into it, or deleting it twice at once, leaves no face of nobody', async () => {
  const R = 'idrace';
  expect((await api('POST', '/v1/collections', { name: R })).status).toBe(201);
  await settled(await upload(R, [['sample2.jpg', 'a.jpg'], ['sample4.jpg', 'b.jpg'], ['sample5.jpg', 'c.jpg']]));
  const total = (await api<{ faces: number }>('GET', `/v1/collections/${R}`)).json.faces;
  /** Every face is listed under a person or a live identity: none is counted and unreachable. */
  const expectEveryFaceReachable = async () => {
    const people = await allPeople(R);
    const identities = (await api<{ items: { id: string }[] }>('GET', `/v1/collections/${R}/identities?limit=100`)).json.items;
    let identityFaces = 0;
    for (const { id } of identities) identityFaces += (await api<{ faces: unknown[] }>('GET', `/v1/collections/${R}/identities/${id}`)).json.faces.length;
    const counted = (await api<{ faces: number }>('GET', `/v1/collections/${R}`)).json.faces;
    expect(people.reduce((n, p) => n + p.faces, 0) + identityFaces).toBe(counted);
    return counted;
  };

  // A DELETE and a naming into the same identity, sent together: whichever the matcher takes
  // first, the named faces end detached (or erased) with the identity, or the naming is 404.
  const people = (await allPeople(R)).slice(0, 6);
  expect(people.length).toBeGreaterThanOrEqual(4);
  let erasedFaces = 0;
  for (const [i, p] of people.entries()) {
    const { id } = (await api<{ id: string }>('POST', `/v1/collections/${R}/identities`, { name: `race ${i}` })).json;
    const erase = i % 2 === 1;
    const [deleted, named] = await Promise.all([
      api<{ faces: number }>('DELETE', `/v1/collections/${R}/identities/${id}${erase ? '?erase=true' : ''}`),
      api('POST', `/v1/collections/${R}/people/${p.personId}/name`, { identityId: id }),
    ]);
    expect(deleted.status).toBe(200);
    expect([200, 404]).toContain(named.status);
    if (erase) erasedFaces += deleted.json.faces;
    expect((await api('GET', `/v1/collections/${R}/identities/${id}`)).status).toBe(404);
  }
  expect(await expectEveryFaceReachable()).toBe(total - erasedFaces);

  // Two DELETEs of one identity at once, one of them an erase: one does its work, the other is
  // refused (409 while it runs, 404 after); an erase that answers 200 has erased the faces.
  for (let round = 0; round < 3; round++) {
    const [p] = await allPeople(R);
    const faceIds = (await facesOf(R, p.personId)).map((f) => f.faceId);
    const { identityId } = (await api<{ identityId: string }>('POST', `/v1/collections/${R}/people/${p.personId}/name`, { name: `twice ${round}` })).json;
    const [plain, erase] = await Promise.all([
      api('DELETE', `/v1/collections/${R}/identities/${identityId}`),
      api<{ faces: number }>('DELETE', `/v1/collections/${R}/identities/${identityId}?erase=true`),
    ]);
    expect([plain.status, erase.status].sort()).toEqual(expect.arrayContaining([200]));
    expect([plain.status, erase.status].filter((s) => s !== 200).every((s) => s === 404 || s === 409)).toBe(true);
    for (const id of faceIds) expect((await thumbnail(id)).status).toBe(erase.status === 200 ? 404 : 200);
    if (erase.status === 200) expect(erase.json.faces).toBe(faceIds.length);
    await expectEveryFaceReachable();
  }
});

it('a photo submitted again keeps each face\'s decisions on that face wherever it is listed, and gives none to another picture\'s faces', async () => {
  const R = 'resubmit';
  expect((await api('POST', '/v1/collections', { name: R })).status).toBe(201);
  const send = async (photo: Buffer): Promise<void> => {
    const form = new FormData();
    form.append('photos', new Blob([photo]), 'k.jpg');
    const res = await api<{ jobId: string }>('POST', `/v1/collections/${R}/photos`, form);
    expect(res.status).toBe(202);
    await settled(res.json.jobId);
  };
  const original = readFileSync(path.join(DEMO, 'sample1.jpg'));
  const { width } = await sharp(original).metadata();
  await send(original);
  const people = await allPeople(R);
  expect(people.length).toBeGreaterThanOrEqual(3);
  // Name the person of the leftmost face: in the mirrored copy it is the rightmost, listed elsewhere.
  const faces = await Promise.all(people.map(async (p) => ({ person: p.personId, face: (await facesOf(R, p.personId))[0] as Face & { box: number[] } })));
  const leftmost = faces.sort((a, b) => a.face.box[0] - b.face.box[0])[0];
  const named = await api<{ identityId: string }>('POST', `/v1/collections/${R}/people/${leftmost.person}/name`, { name: 'Leftmost' });
  expect(named.status).toBe(200);
  const identityFaces = async () => (await api<{ faces: { faceId: string; box: number[]; pinned: boolean }[] }>('GET', `/v1/collections/${R}/identities/${named.json.identityId}`)).json.faces;
  const [before] = await identityFaces();

  // The same picture mirrored, under the same key: the named face is now at the right.
  await send(await sharp(original).flop().jpeg().toBuffer());
  const mirrored = await identityFaces();
  expect(mirrored).toHaveLength(1);
  const centre = (b: number[]) => b[0] + b[2] / 2;
  expect(Math.abs(centre(mirrored[0].box) - (width! - centre(before.box)))).toBeLessThan(0.05 * width!);
  expect(mirrored[0].pinned).toBe(true);
  // Its neighbours are still unknown people, none of them pinned.
  const unknown = (await Promise.all((await allPeople(R)).map((p) => facesOf(R, p.personId)))).flat();
  expect(unknown.length).toBeGreaterThanOrEqual(2);
  expect(unknown.every((f) => !f.pinned)).toBe(true);

  // Another picture under the same key: none of its faces is the named one.
  await send(readFileSync(path.join(DEMO, 'sample2.jpg')));
  expect(await identityFaces()).toEqual([]);
  const now = (await Promise.all((await allPeople(R)).map((p) => facesOf(R, p.personId)))).flat();
  expect(now.length).toBeGreaterThan(0);
  expect(now.every((f) => !f.pinned && f.photoKey === 'k.jpg')).toBe(true);
  expect((await api('GET', `/v1/collections/${R}`)).json).toMatchObject({ photos: 1, faces: now.length });
});

it('erasing an identity takes its faces out of the job results, and a photo left without faces is still a photo', async () => {
  const E = 'erase-identity';
  expect((await api('POST', '/v1/collections', { name: E })).status).toBe(201);
  type Results = { items: { key: string; faces: { faceId: string; box: number[]; personId: string }[] }[] };
  const group = await upload(E, [['sample1.jpg', 'group.jpg']]);
  await settled(group);
  const [groupResult] = (await api<Results>('GET', `/v1/jobs/${group}/results`)).json.items;
  expect(groupResult.faces.length).toBeGreaterThanOrEqual(3);
  // One face of the group photo, cut out as a photo of its own: the two form one person.
  const face = groupResult.faces[0];
  const [x, y, w, h] = face.box;
  const original = readFileSync(path.join(DEMO, 'sample1.jpg'));
  const { width, height } = await sharp(original).metadata();
  const left = Math.max(0, Math.round(x - 0.4 * w)), top = Math.max(0, Math.round(y - 0.4 * h));
  const crop = await sharp(original)
    .extract({ left, top, width: Math.min(width!, Math.round(x + 1.4 * w)) - left, height: Math.min(height!, Math.round(y + 1.4 * h)) - top })
    .jpeg()
    .toBuffer();
  const form = new FormData();
  form.append('photos', new Blob([crop]), 'alone.jpg');
  const alone = (await api<{ jobId: string }>('POST', `/v1/collections/${E}/photos`, form)).json.jobId;
  await settled(alone);
  const [aloneResult] = (await api<Results>('GET', `/v1/jobs/${alone}/results`)).json.items;
  expect(aloneResult.faces).toHaveLength(1);
  expect(aloneResult.faces[0].personId).toBe(face.personId);

  const named = await api<{ identityId: string; faces: number }>('POST', `/v1/collections/${E}/people/${face.personId}/name`, { name: 'Erased' });
  expect(named.json.faces).toBe(2);
  // An enrolment too: its photo counts, under the identity's own key.
  const enrol = new FormData();
  enrol.append('photo', new Blob([crop]), 'enrol.jpg');
  expect((await api('POST', `/v1/collections/${E}/identities/${named.json.identityId}/faces`, enrol)).status).toBe(201);
  const faces = groupResult.faces.length + 1;
  expect((await api('GET', `/v1/collections/${E}`)).json).toMatchObject({ photos: 3, faces: faces + 1 });
  expect((await api('DELETE', `/v1/collections/${E}/identities/${named.json.identityId}?erase=true`)).json).toMatchObject({ erased: true, faces: 3 });

  const groupAfter = (await api<Results>('GET', `/v1/jobs/${group}/results`)).json.items[0];
  expect(groupAfter.faces.map((f) => f.faceId)).toEqual(groupResult.faces.slice(1).map((f) => f.faceId));
  expect((await api<Results>('GET', `/v1/jobs/${alone}/results`)).json.items[0]).toMatchObject({ key: 'alone.jpg', status: 'done', faces: [] });
  // alone.jpg has no face left but is still a photo of the collection, until it is erased; the
  // enrolled photo went with its identity.
  expect((await api('GET', `/v1/collections/${E}`)).json).toMatchObject({ photos: 2, faces: faces - 2 });
  expect((await api('DELETE', `/v1/collections/${E}/photos/alone.jpg`)).json).toEqual({ collection: E, key: 'alone.jpg', faces: 0 });
  expect((await api('GET', `/v1/collections/${E}`)).json).toMatchObject({ photos: 1, faces: faces - 2 });
});

it('a recluster asked for again while it waits is the same job; with other settings it is 409, not silently dropped', async () => {
  const R = 'recluster-busy';
  expect((await api('POST', '/v1/collections', { name: R })).status).toBe(201);
  const index = new Queue('index', { connection: redis, prefix: service.prefix });
  await index.pause(); // the matcher takes nothing: the first recluster stays queued
  let first: { status: number; json: { jobId: string } };
  try {
    first = await api<{ jobId: string }>('POST', `/v1/collections/${R}/recluster`, { eps: 0.4 });
    expect(first.status).toBe(202);
    expect((await api('POST', `/v1/collections/${R}/recluster`, { eps: 0.4, minFaces: 2 })).json).toEqual({ jobId: first.json.jobId });
    const other = await api('POST', `/v1/collections/${R}/recluster`, { eps: 0.6 });
    expect(other.status).toBe(409);
    expect(other.json.error.code).toBe('RECLUSTER_IN_PROGRESS');
    expect(other.json.error.message).toContain(first.json.jobId);
  } finally {
    await index.resume();
    await index.close();
  }
  // Once it has finished, other settings start a new one.
  await waitFor('the first recluster', 60_000, async () => (await api<{ state: string }>('GET', `/v1/collections/${R}/recluster/${first.json.jobId}`)).json.state === 'completed');
  expect(await recluster(R, { eps: 0.6 })).toMatchObject({ state: 'completed', faces: 0 });
});

it('a face of another picture under a key starts a person of its own, not the one the face before it at that place started', async () => {
  const K = 'new-person';
  expect((await api('POST', '/v1/collections', { name: K })).status).toBe(201);
  await settled(await upload(K, [['sample1.jpg', 'k.jpg']])); // its faces start people of their own
  await settled(await upload(K, [['sample1.jpg', 'copy.jpg']])); // whose faces join them
  const paired = await allPeople(K);
  expect(paired.every((p) => p.faces === 2)).toBe(true);
  await settled(await upload(K, [['sample2.jpg', 'k.jpg']])); // other people, at the same places
  for (const p of await allPeople(K)) {
    const keys = new Set((await facesOf(K, p.personId)).map((f) => f.photoKey));
    expect({ person: p.personId, keys: [...keys] }).toEqual({ person: p.personId, keys: [expect.any(String)] });
  }
});
