// The sweep that finishes deletions cut off half-way (and a repeated DELETE), against the real processes (gateway and
// workers from dist/, real models, real Redis): faces are enrolled for real, then each DELETE is
// cut off where a killed gateway would leave it (the record or name taken away, the deletion
// marked, nothing else done). A second, in-process gateway on the same prefix runs the sweep
// with its clock moved on, and the faces must end exactly as a finished DELETE leaves them.
import { collectionsKey } from '@facepipe/contracts';
import { thumbnailDir } from '@facepipe/pipeline';
import { REDIS_URL, type ServiceProcesses, api, startProcesses } from '@facepipe/testing';
import { Redis } from 'ioredis';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { deletingCollectionsKey } from '../collections/collections.repository';
import { IndexOpsClient } from '../index-ops/index-ops.client';
import { STRANDED_AFTER_MS } from '../jobs/interrupted-submission-sweep';
import { DEMO_DIR, type TestGateway, startTestGateway } from '../testing/test-gateway';
import { IdentitiesRepository } from './identities.repository';
import { detachedPersonId } from './identities.service';
import { InterruptedDeletionSweep } from './interrupted-deletion-sweep';

jest.setTimeout(240_000);

const photo = readFileSync(path.join(DEMO_DIR, 'sample1.jpg'));

describe('interrupted deletions', () => {
  let svc: ServiceProcesses;
  let gw: TestGateway;
  let redis: Redis;

  beforeAll(async () => {
    svc = await startProcesses();
    gw = await startTestGateway({ FACEPIPE_PREFIX: svc.prefix, FACEPIPE_DATA_DIR: svc.dataDir });
    redis = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    redis?.disconnect();
    await svc?.stop();
    await gw?.close();
  });

  const call = <T = any>(method: string, route: string, body?: unknown) => api<T>(svc.base, method, route, body); // eslint-disable-line @typescript-eslint/no-explicit-any

  /** The thumbnail route's status (a JPEG when 200). */
  const thumbnail = async (faceId: string) => (await fetch(`${svc.base}/v1/faces/${faceId}/thumbnail`)).status;

  /** A new identity with every face of the photo enrolled (several: the test needs faces, not people). */
  async function enrolled(collection: string, name: string): Promise<{ id: string; faceIds: string[] }> {
    const { json: identity } = await call<{ id: string }>('POST', `/v1/collections/${collection}/identities`, { name });
    const form = new FormData();
    form.append('photo', new Blob([photo], { type: 'image/jpeg' }), 'p.jpg');
    const enrol = await call<{ faces: { faceId: string }[] }>('POST', `/v1/collections/${collection}/identities/${identity.id}/faces?all=true`, form);
    expect(enrol.status).toBe(201);
    expect(enrol.json.faces.length).toBeGreaterThan(0);
    return { id: identity.id, faceIds: enrol.json.faces.map((f) => f.faceId) };
  }

  it('finishes identity and collection deletions left half-done, once they have stayed so for 10 minutes', async () => {
    for (const name of ['ids', 'gone']) expect((await call('POST', '/v1/collections', { name })).status).toBe(201);
    const kept = await enrolled('ids', 'Detached');
    const erased = await enrolled('ids', 'Erased');
    const other = await enrolled('gone', 'Anyone');

    // Cut off: the first step of each DELETE only.
    const identities = gw.app.get(IdentitiesRepository);
    expect(await identities.startDelete('ids', kept.id, 'detach')).toEqual({ ok: true, resumed: false });
    expect(await identities.startDelete('ids', erased.id, 'erase')).toEqual({ ok: true, resumed: false });
    await redis.multi().hdel(collectionsKey(svc.prefix), 'gone').sadd(deletingCollectionsKey(svc.prefix), 'gone').exec(); // as erase.service starts
    expect((await call('POST', '/v1/collections', { name: 'gone' })).status).toBe(409); // the name is not free yet
    expect((await thumbnail(erased.faceIds[0]))).toBe(200); // the faces are still there

    const sweep = gw.app.get(InterruptedDeletionSweep);
    const t0 = Date.now();
    expect(await sweep.sweep(t0)).toEqual({ collections: 0, identities: 0 }); // first seen: may still be running
    expect(await sweep.sweep(t0 + STRANDED_AFTER_MS - 1)).toEqual({ collections: 0, identities: 0 });
    expect(await sweep.sweep(t0 + STRANDED_AFTER_MS)).toEqual({ collections: 1, identities: 2 });

    // Detached: the face is one pinned unknown person's; erased: gone with its thumbnail.
    const detached = await call<{ items: { faceId: string; pinned: boolean }[] }>('GET', `/v1/collections/ids/people/${detachedPersonId(kept.id)}/faces?limit=100`);
    expect(detached.json.items.map((f) => f.faceId).sort()).toEqual([...kept.faceIds].sort());
    expect(detached.json.items.every((f) => f.pinned)).toBe(true);
    for (const faceId of erased.faceIds) expect((await thumbnail(faceId))).toBe(404);
    expect((await call<{ faces: number }>('GET', '/v1/collections/ids')).json.faces).toBe(kept.faceIds.length);
    expect(await identities.deletionsInProgress(['ids'])).toEqual([]);
    // The collection: its faces and name are gone, and the name can be used again, empty.
    for (const faceId of other.faceIds) expect((await thumbnail(faceId))).toBe(404);
    expect(await redis.smembers(deletingCollectionsKey(svc.prefix))).toEqual([]);
    expect((await call('POST', '/v1/collections', { name: 'gone' })).status).toBe(201);
    expect((await call<{ faces: number }>('GET', '/v1/collections/gone')).json.faces).toBe(0);

    expect(await sweep.sweep(t0 + 2 * STRANDED_AFTER_MS)).toEqual({ collections: 0, identities: 0 }); // once
  });

  it("an erasing DELETE cut off after the index let go of the faces still removes their crops when repeated", async () => {
    expect((await call('POST', '/v1/collections', { name: 'crops' })).status).toBe(201);
    const gone = await enrolled('crops', 'Erased');
    const crops = () => readdirSync(path.join(thumbnailDir(svc.dataDir), 'crops'), { recursive: true }).filter((f) => String(f).endsWith('.jpg')).length;
    expect(crops()).toBe(gone.faceIds.length);
    // What a gateway killed mid-DELETE leaves when its queued deleteFaces ran afterwards: the
    // record gone, the faces gone from the index, their crops still on disk.
    const identities = gw.app.get(IdentitiesRepository);
    expect(await identities.startDelete('crops', gone.id, 'erase')).toEqual({ ok: true, resumed: false });
    await identities.rememberErasedFaces('crops', gone.id, gone.faceIds);
    expect((await gw.app.get(IndexOpsClient).call('crops', { type: 'deleteFaces', filter: { identityId: gone.id } })).deleted).toBe(gone.faceIds.length);
    expect(crops()).toBe(gone.faceIds.length);

    const repeated = await call('DELETE', `/v1/collections/crops/identities/${gone.id}?erase=true`);
    expect(repeated).toMatchObject({ status: 200, json: { erased: true, faces: 0 } });
    expect(crops()).toBe(0);
    expect(await identities.erasedFaces('crops', gone.id)).toEqual([]);
  });
});
