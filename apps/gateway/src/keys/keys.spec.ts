import crypto from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEMO_DIR, type Json, type TestGateway, startTestGateway } from '../testing/test-gateway';

const ADMIN_KEY = 'admin-key-for-keys-spec';
const admin = { 'x-api-key': ADMIN_KEY };

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/** Every string value under the gateway's prefix, for looking for a secret anywhere in Redis. */
async function allRedisText(gw: TestGateway): Promise<string> {
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await gw.redis.scan(cursor, 'MATCH', `${gw.prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      parts.push(key);
      const type = await gw.redis.type(key);
      if (type === 'string') parts.push((await gw.redis.get(key)) ?? '');
      else if (type === 'hash') parts.push(JSON.stringify(await gw.redis.hgetall(key)));
      else if (type === 'list') parts.push(JSON.stringify(await gw.redis.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await gw.redis.smembers(key)));
      else if (type === 'zset') parts.push(JSON.stringify(await gw.redis.zrange(key, 0, -1)));
    }
  } while (cursor !== '0');
  return parts.join('\n');
}

describe('API keys', () => {
  let gw: TestGateway;

  async function createKey(body: Json): Promise<Json> {
    const res = await gw.fetch('/v1/keys', { method: 'POST', json: body, headers: admin });
    expect(res.status).toBe(201);
    return res.body;
  }

  beforeAll(async () => {
    gw = await startTestGateway({ FACEPIPE_API_KEY: ADMIN_KEY });
    for (const name of ['alpha', 'beta']) {
      expect((await gw.fetch('/v1/collections', { method: 'POST', json: { name }, headers: admin })).status).toBe(201);
    }
  });

  afterAll(async () => {
    await gw.close();
  });

  it('issues a key once (201), lists it without the secret, and stores only its sha256', async () => {
    const created = await createKey({ collections: ['alpha', 'later', 'alpha'], scopes: ['read', 'write'] });
    expect(created).toEqual({
      id: expect.stringMatching(/^k[0-9a-f]{16}$/),
      key: expect.stringMatching(/^fpk_[A-Za-z0-9_-]{43}$/),
      collections: ['alpha', 'later'], // deduplicated; "later" need not exist yet
      scopes: ['read', 'write'],
      pathRoots: [],
      createdAt: expect.any(String),
    });
    expect(Buffer.from(created.key.slice(4), 'base64url')).toHaveLength(32); // 256 random bits

    const list = await gw.fetch('/v1/keys', { headers: admin });
    expect(list.status).toBe(200);
    const listed = list.body.items.find((k: Json) => k.id === created.id);
    expect(listed).toEqual({ id: created.id, collections: ['alpha', 'later'], scopes: ['read', 'write'], pathRoots: [], createdAt: created.createdAt });
    expect(list.text).not.toContain(created.key);

    // Hashed storage: neither the key nor its random part is anywhere in Redis; its sha256 is.
    const stored = await allRedisText(gw);
    expect(stored).not.toContain(created.key);
    expect(stored).not.toContain(created.key.slice(4));
    expect(stored).toContain(crypto.createHash('sha256').update(created.key).digest('hex'));
    expect(list.text).not.toContain(crypto.createHash('sha256').update(created.key).digest('hex'));
  });

  it('refuses bad key requests with 400 VALIDATION_FAILED naming the field', async () => {
    for (const [body, field] of [
      [{ collections: ['alpha'], scopes: [] }, 'scopes'],
      [{ collections: ['alpha'], scopes: ['root'] }, 'scopes.0'],
      [{ collections: ['Bad Name'], scopes: ['read'] }, 'collections.0'],
      [{ scopes: ['read'] }, 'collections'],
      [{ collections: [], scopes: ['read'], extra: 1 }, undefined],
    ] as const) {
      const res = await gw.fetch('/v1/keys', { method: 'POST', json: body, headers: admin });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      if (field) expect(res.body.error.field).toBe(field);
    }
  });

  it('keeps the keys routes to the admin key: an issued key, even with the admin scope, gets 403', async () => {
    const { key } = await createKey({ collections: ['alpha'], scopes: ['read', 'write', 'admin'] });
    const headers = { 'x-api-key': key };
    for (const [method, p] of [
      ['POST', '/v1/keys'],
      ['GET', '/v1/keys'],
      ['DELETE', '/v1/keys/k0000000000000000'],
      ['POST', '/v1/collections'],
    ]) {
      const res = await gw.fetch(p, { method, headers, ...(method === 'POST' ? { json: { collections: ['beta'], scopes: ['read'], name: 'gamma' } } : {}) });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
    }
    expect(await gw.redis.hexists(`${gw.prefix}:collections`, 'gamma')).toBe(0);
  });

  it('gives a key its collections only: 404 elsewhere, as for a missing resource; 403 for a scope it lacks', async () => {
    const reader = await createKey({ collections: ['alpha'], scopes: ['read'] });
    const writer = await createKey({ collections: ['alpha'], scopes: ['read', 'write'] });
    const r = { 'x-api-key': reader.key };
    const w = { 'x-api-key': writer.key };

    expect((await gw.fetch('/v1/collections/alpha', { headers: r })).body).toEqual({ name: 'alpha', createdAt: expect.any(String), photos: 0, faces: 0, people: 0, threshold: 0.34 });
    // beta exists but is not the key's: the very body a missing collection gets.
    const other = await gw.fetch('/v1/collections/beta', { headers: r });
    const missing = await gw.fetch('/v1/collections/nowhere', { headers: admin });
    expect(other.status).toBe(404);
    expect(other.body).toEqual({ error: { code: 'COLLECTION_NOT_FOUND', message: 'Collection "beta" does not exist' } });
    expect(missing.body).toEqual({ error: { code: 'COLLECTION_NOT_FOUND', message: 'Collection "nowhere" does not exist' } });
    expect((await gw.fetch('/v1/collections/nowhere', { headers: r })).body).toEqual(missing.body);

    // A read-only key may not submit to its own collection (403) and gets 404 for another one.
    const items = { items: [{ key: 'a.jpg', url: 'https://photos.example.com/a.jpg' }] };
    const denied = await gw.fetch('/v1/collections/alpha/photos', { method: 'POST', json: items, headers: r });
    expect(denied.status).toBe(403);
    expect(denied.body.error).toEqual({ code: 'FORBIDDEN', message: 'This API key lacks the "write" scope' });
    expect((await gw.fetch('/v1/collections/beta/photos', { method: 'POST', json: items, headers: w })).status).toBe(404);

    // A writer submits to its collection and follows its job; another collection's job is 404 JOB_NOT_FOUND.
    const mine = await gw.fetch('/v1/collections/alpha/photos', { method: 'POST', json: { ...items, seal: false }, headers: w });
    expect(mine.status).toBe(202);
    expect((await gw.fetch(`/v1/jobs/${mine.body.jobId}`, { headers: r })).body).toMatchObject({ id: mine.body.jobId, collection: 'alpha' });
    expect((await gw.fetch(`/v1/jobs/${mine.body.jobId}/photos`, { method: 'POST', json: items, headers: r })).status).toBe(403);
    expect((await gw.fetch(`/v1/jobs/${mine.body.jobId}/seal`, { method: 'POST', headers: w })).status).toBe(200);

    const theirs = await gw.fetch('/v1/collections/beta/photos', { method: 'POST', json: items, headers: admin });
    for (const p of [`/v1/jobs/${theirs.body.jobId}`, `/v1/jobs/${theirs.body.jobId}/results`]) {
      const res = await gw.fetch(p, { headers: w });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: { code: 'JOB_NOT_FOUND', message: `Job ${theirs.body.jobId} does not exist` } });
    }
    expect((await gw.fetch('/v1/jobs/j000000000000000000000000', { headers: w })).body.error.code).toBe('JOB_NOT_FOUND');
  });

  it('refuses an upload to a collection the key lacks before storing a byte of it', async () => {
    const { key } = await createKey({ collections: ['alpha'], scopes: ['write'] });
    const before = filesUnder(gw.dataDir);
    const form = new FormData();
    form.append('photos', new Blob([readFileSync(path.join(DEMO_DIR, 'sample1.jpg'))], { type: 'image/jpeg' }), 'sample1.jpg');
    const res = await gw.fetch('/v1/collections/beta/photos', { method: 'POST', body: form, headers: { 'x-api-key': key } });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('COLLECTION_NOT_FOUND');
    expect(filesUnder(gw.dataDir)).toEqual(before);
    // The same upload with the right collection is stored: the check above could have failed.
    const ok = await gw.fetch('/v1/collections/alpha/photos', { method: 'POST', body: form, headers: { 'x-api-key': key } });
    expect(ok.status).toBe(202);
    expect(filesUnder(gw.dataDir).length).toBeGreaterThan(before.length);
  });

  it('revokes a key at once; an unknown key is 401, a revoked id 404 KEY_NOT_FOUND', async () => {
    const created = await createKey({ collections: ['alpha'], scopes: ['read'] });
    const headers = { 'x-api-key': created.key };
    expect((await gw.fetch('/v1/collections/alpha', { headers })).status).toBe(200);
    expect((await gw.fetch(`/v1/keys/${created.id}`, { method: 'DELETE', headers: admin })).status).toBe(204);
    const after = await gw.fetch('/v1/collections/alpha', { headers });
    expect(after.status).toBe(401);
    expect(after.body).toEqual({ error: { code: 'UNAUTHORIZED', message: 'Invalid API key' } });
    expect((await gw.fetch('/v1/keys', { headers: admin })).body.items.map((k: Json) => k.id)).not.toContain(created.id);
    for (const id of [created.id, 'k0000000000000000', 'not-an-id']) {
      const res = await gw.fetch(`/v1/keys/${id}`, { method: 'DELETE', headers: admin });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('KEY_NOT_FOUND');
    }
    for (const bad of ['fpk_' + 'A'.repeat(43), created.key + 'x', 'x'.repeat(5000)]) {
      expect((await gw.fetch('/v1/collections/alpha', { headers: { 'x-api-key': bad } })).status).toBe(401);
    }
    expect((await gw.fetch('/docs-json', { headers })).status).toBe(401);
  });

  it('lets any valid key read the docs', async () => {
    const { key } = await createKey({ collections: [], scopes: ['read'] });
    expect((await gw.fetch('/docs-json', { headers: { 'x-api-key': key } })).status).toBe(200);
  });

  it('compares the admin key in constant time (timingSafeEqual on sha256 digests)', async () => {
    const spy = jest.spyOn(crypto, 'timingSafeEqual');
    try {
      expect((await gw.fetch('/v1/collections/alpha', { headers: admin })).status).toBe(200);
      expect((await gw.fetch('/v1/collections/alpha', { headers: { 'x-api-key': 'wrong' } })).status).toBe(401);
      expect(spy).toHaveBeenCalledTimes(2);
      for (const [a, b] of spy.mock.calls) {
        expect((a as Buffer).length).toBe(32);
        expect((b as Buffer).length).toBe(32);
      }
    } finally {
      spy.mockRestore();
    }
  });

  it('never returns a webhook secret from GET /v1/jobs/{id}, to the admin or to a key', async () => {
    const { key } = await createKey({ collections: ['alpha'], scopes: ['read', 'write'] });
    const secret = 'whsec-never-shown-123';
    const res = await gw.fetch('/v1/collections/alpha/photos', {
      method: 'POST',
      json: { items: [{ key: 'w.jpg', url: 'https://photos.example.com/w.jpg' }], webhook: { url: 'https://hooks.example.com/x', secret } },
      headers: { 'x-api-key': key },
    });
    expect(res.status).toBe(202);
    expect(await gw.jobStore.webhookOf(res.body.jobId)).toEqual({ url: 'https://hooks.example.com/x', secret });
    for (const headers of [admin, { 'x-api-key': key }]) {
      for (const p of [`/v1/jobs/${res.body.jobId}`, `/v1/jobs/${res.body.jobId}/results`]) {
        const view = await gw.fetch(p, { headers });
        expect(view.status).toBe(200);
        expect(view.text).not.toContain(secret);
        expect(view.text).not.toContain('"secret"');
      }
    }
    expect((await gw.fetch(`/v1/jobs/${res.body.jobId}`, { headers: admin })).body.webhook).toEqual({ url: 'https://hooks.example.com/x', deliveries: [] });
  });
});

describe('API keys on a development server (no FACEPIPE_API_KEY)', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway();
  });

  afterAll(async () => {
    await gw.close();
  });

  it('treats a request without a key as admin, but an issued key stays limited and an unknown one is 401', async () => {
    expect((await gw.fetch('/v1/collections', { method: 'POST', json: { name: 'dev' } })).status).toBe(201);
    expect((await gw.fetch('/v1/collections', { method: 'POST', json: { name: 'other' } })).status).toBe(201);
    const created = await gw.fetch('/v1/keys', { method: 'POST', json: { collections: ['dev'], scopes: ['read'] } });
    expect(created.status).toBe(201);
    const headers = { 'x-api-key': created.body.key };
    expect((await gw.fetch('/v1/collections/dev', { headers })).status).toBe(200);
    expect((await gw.fetch('/v1/collections/other', { headers })).status).toBe(404);
    expect((await gw.fetch('/v1/keys', { headers })).status).toBe(403);
    expect((await gw.fetch('/v1/collections/other', { headers: { 'x-api-key': 'made-up' } })).status).toBe(401);
    expect((await gw.fetch('/v1/collections/other', { headers: { 'x-api-key': '' } })).status).toBe(200);
  });
});

describe("API keys' path roots", () => {
  let gw: TestGateway;
  let root: string;
  const tenantA = () => path.join(root, 'tenant-a');
  const tenantB = () => path.join(root, 'tenant-b');

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'facepipe-key-roots-'));
    for (const dir of [tenantA(), tenantB()]) {
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'photo.jpg'), readFileSync(path.join(DEMO_DIR, 'sample1.jpg')));
    }
    gw = await startTestGateway({ FACEPIPE_API_KEY: ADMIN_KEY, FACEPIPE_PATH_ROOTS: root });
    expect((await gw.fetch('/v1/collections', { method: 'POST', json: { name: 'alpha' }, headers: admin })).status).toBe(201);
  });

  afterAll(async () => {
    await gw?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const key = async (pathRoots?: string[]) => {
    const res = await gw.fetch('/v1/keys', { method: 'POST', json: { collections: ['alpha'], scopes: ['read', 'write'], ...(pathRoots ? { pathRoots } : {}) }, headers: admin });
    expect(res.status).toBe(201);
    return { headers: { 'x-api-key': res.body.key as string }, view: res.body };
  };
  const submit = (headers: Record<string, string>, file: string) =>
    gw.fetch('/v1/collections/alpha/photos', { method: 'POST', json: { items: [{ key: path.basename(path.dirname(file)), path: file }] }, headers });

  it('gives an issued key no server paths unless it is given folders inside FACEPIPE_PATH_ROOTS', async () => {
    // FACEPIPE_PATH_ROOTS is one list for every caller: a key for one collection could read (and
    // learn the existence of) every other tenant's files under it.
    const plain = await key();
    expect(plain.view.pathRoots).toEqual([]);
    const refused = await submit(plain.headers, path.join(tenantB(), 'photo.jpg'));
    expect(refused.status).toBe(400);
    expect(refused.body.error).toEqual({ code: 'PATH_NOT_ALLOWED', field: 'items.0.path', message: 'items.0.path: this API key may not read server paths (it has no pathRoots)' });
    const detect = await gw.fetch('/v1/detect', { method: 'POST', json: { path: path.join(tenantB(), 'photo.jpg') }, headers: plain.headers });
    expect({ status: detect.status, code: detect.body.error.code }).toEqual({ status: 400, code: 'PATH_NOT_ALLOWED' });

    const ofA = await key([`${tenantA()}/`, tenantA()]);
    expect(ofA.view.pathRoots).toEqual([tenantA()]); // normalised, deduplicated
    const other = await submit(ofA.headers, path.join(tenantB(), 'photo.jpg'));
    expect(other.body.error).toMatchObject({ code: 'PATH_NOT_ALLOWED', field: 'items.0.path' });
    expect((await submit(ofA.headers, `${tenantA()}/../tenant-b/photo.jpg`)).body.error.code).toBe('PATH_NOT_ALLOWED');
    // Its own folder is accepted, and the queued source carries its roots: the detector checks the real path against them.
    const own = await submit(ofA.headers, path.join(tenantA(), 'photo.jpg'));
    expect(own.status).toBe(202);
    const [queued] = await gw.detectQueue.getJobs(['waiting', 'prioritized']);
    expect(queued.data.source).toEqual({ kind: 'path', path: path.join(tenantA(), 'photo.jpg'), roots: [tenantA()] });

    // The admin key reads every root, with no roots attached.
    expect((await submit(admin, path.join(tenantB(), 'photo.jpg'))).status).toBe(202);
  });

  it('refuses key folders outside FACEPIPE_PATH_ROOTS', async () => {
    for (const [pathRoots, field] of [
      [['/etc'], 'pathRoots.0'],
      [[tenantA(), `${root}-sibling`], 'pathRoots.1'],
      [[`${root}/../x`], 'pathRoots.0'],
      [['relative/dir'], 'pathRoots.0'],
    ] as const) {
      const res = await gw.fetch('/v1/keys', { method: 'POST', json: { collections: ['alpha'], scopes: ['read'], pathRoots }, headers: admin });
      expect({ pathRoots, status: res.status, code: res.body.error?.code, field: res.body.error?.field }).toEqual({ pathRoots, status: 400, code: 'PATH_NOT_ALLOWED', field });
    }
    // The root itself may be given whole.
    expect((await key([root])).view.pathRoots).toEqual([root]);
  });
});
