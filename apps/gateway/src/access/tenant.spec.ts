// Tenant isolation, table-driven over every route of the OpenAPI document: a key for collection A
// calling any route on collection B (by its name, one of its jobs or one of its faces) gets the
// 404 a missing resource gets, and nothing changes. Routes added later are picked up by
// themselves; a route that declares no access rule fails the test until it is classified.
import { collectionOfFaceId, faceId } from '@facepipe/contracts';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { collectionNotFound } from '../collections/collections.service';
import { mapError } from '../common/error-mapping';
import { jobNotFound } from '../jobs/jobs.service';
import { type Json, type TestGateway, startTestGateway } from '../testing/test-gateway';
import { AccessRoutes, type RouteAccess } from './access-routes';
import type { ResourceKind } from './access.decorator';
import { faceNotFound } from './access.guard';

const ADMIN_KEY = 'admin-key-for-tenant-spec';
const admin = { 'x-api-key': ADMIN_KEY };
const A = 'tenant-a';
const B = 'tenant-b';

/** The body a route answers for a resource that does not exist (the helpers the routes throw). */
function missingBody(kind: ResourceKind, value: string): Json {
  const error = kind === 'collection' ? collectionNotFound(value) : kind === 'job' ? jobNotFound(value) : faceNotFound(value);
  return mapError(error).body;
}

/** Everything under the gateway's prefix, value by value (BullMQ's periodic stalled-check marker aside). */
async function redisState(gw: TestGateway): Promise<Map<string, string>> {
  const state = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await gw.redis.scan(cursor, 'MATCH', `${gw.prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      if (key.endsWith(':stalled-check')) continue;
      const type = await gw.redis.type(key);
      let value: unknown;
      if (type === 'string') value = await gw.redis.get(key);
      else if (type === 'hash') value = Object.entries(await gw.redis.hgetall(key)).sort();
      else if (type === 'list') value = await gw.redis.lrange(key, 0, -1);
      else if (type === 'set') value = (await gw.redis.smembers(key)).sort();
      else if (type === 'zset') value = await gw.redis.zrange(key, 0, -1, 'WITHSCORES');
      else if (type === 'stream') value = await gw.redis.xrange(key, '-', '+');
      else value = type;
      state.set(key, `${type} ${JSON.stringify(value)}`);
    }
  } while (cursor !== '0');
  return state;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

describe('tenant isolation on every route', () => {
  let gw: TestGateway;
  let keyA: Record<string, string>;
  /** B's resources, one per kind a route can take its collection from. */
  const ofB: Record<ResourceKind, string> = { collection: B, job: '', face: faceId(B, 'b1.jpg', 0) };

  beforeAll(async () => {
    gw = await startTestGateway({ FACEPIPE_API_KEY: ADMIN_KEY });
    for (const name of [A, B]) expect((await gw.fetch('/v1/collections', { method: 'POST', json: { name }, headers: admin })).status).toBe(201);
    // A real, open job of B, with a webhook secret, and a face id of B.
    const job = await gw.fetch(`/v1/collections/${B}/photos`, {
      method: 'POST',
      json: { items: [{ key: 'b1.jpg', url: 'https://photos.example.com/b1.jpg' }], webhook: { url: 'https://hooks.example.com/b', secret: 'b-secret' }, seal: false },
      headers: admin,
    });
    expect(job.status).toBe(202);
    ofB.job = job.body.jobId;
    expect((await gw.fetch(`/v1/jobs/${ofB.job}`, { headers: admin })).body).toMatchObject({ collection: B, sealed: false, total: 1 });
    expect(collectionOfFaceId(ofB.face)).toBe(B);

    const key = await gw.fetch('/v1/keys', { method: 'POST', json: { collections: [A], scopes: ['read', 'write', 'admin'] }, headers: admin });
    expect(key.status).toBe(201);
    keyA = { 'x-api-key': key.body.key };
    // The key works where it should.
    expect((await gw.fetch(`/v1/collections/${A}`, { headers: keyA })).status).toBe(200);
  });

  afterAll(async () => {
    await gw.close();
  });

  /** OpenAPI's routes, each with the access declaration of the Nest route behind it. */
  async function documentedRoutes(): Promise<{ method: string; path: string; access: RouteAccess | undefined }[]> {
    const docs = await gw.fetch('/docs-json', { headers: admin });
    expect(docs.status).toBe(200);
    const nest = gw.app.get(AccessRoutes).list();
    const routes = [];
    for (const [p, ops] of Object.entries(docs.body.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(ops).filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))) {
        const expressPath = p.replace(/\{([^}]+)\}/g, ':$1');
        routes.push({ method: method.toUpperCase(), path: p, access: nest.find((r) => r.method === method.toUpperCase() && r.path === expressPath) });
      }
    }
    return routes;
  }

  it('answers a key for A with 404 (or 403 on admin-key routes) on every route touching B, and changes nothing', async () => {
    const routes = await documentedRoutes();
    const unclassified: string[] = [];
    const tested: string[] = [];
    const apiBefore = await bViews();

    for (const { method, path: p, access } of routes) {
      const rule = access?.rule;
      const label = `${method} ${p}`;
      if (!rule) {
        unclassified.push(access ? `${label}: no @Access declaration` : `${label}: not found among the Nest routes`);
        continue;
      }
      if (rule.kind === 'public') continue;
      const params = [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      if (rule.kind === 'scoped' && !rule.resource) {
        // verify/detect-like: the scope only. A path param there is most likely a collection nobody checks.
        if (params.length > 0) unclassified.push(`${label}: declares no collection but has path params ${params.join(', ')}`);
        continue;
      }

      const kind = rule.kind === 'scoped' ? rule.resource!.kind : undefined;
      const url = p.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(kind && name === (rule as { resource: { param: string } }).resource.param ? ofB[kind] : 'x'));
      const before = { redis: await redisState(gw), files: filesUnder(gw.dataDir) };
      const logsBefore = gw.logs.length;

      const res = await gw.fetch(url, { method, headers: keyA, ...(method === 'GET' || method === 'DELETE' ? {} : { json: {} }) });

      if (rule.kind === 'admin-key') {
        expect({ label, status: res.status, body: res.body }).toEqual({ label, status: 403, body: { error: { code: 'FORBIDDEN', message: expect.any(String) } } });
      } else {
        expect({ label, status: res.status, body: res.body }).toEqual({ label, status: 404, body: missingBody(kind!, ofB[kind!]) });
        // The guard refused it for B's sake (not the route, for some other reason): it logged why.
        const denial = gw.logs.slice(logsBefore).map((l) => JSON.parse(l) as Json).find((l) => l.msg === 'access denied');
        expect({ label, denial }).toEqual({ label, denial: expect.objectContaining({ route: p.replace(/\{([^}]+)\}/g, ':$1'), reason: kind, status: 404 }) });
      }
      const after = { redis: await redisState(gw), files: filesUnder(gw.dataDir) };
      expect({ label, ...after, redis: Object.fromEntries(after.redis) }).toEqual({ label, ...before, redis: Object.fromEntries(before.redis) });
      tested.push(label);
    }

    if (unclassified.length > 0) {
      throw new Error(
        `Classify these routes for tenant isolation: add @Access('<scope>', { collection | job | face: '<param>' }), ` +
          `@Access('<scope>') for a route that touches no collection, @AdminKeyOnly() or @PublicRoute() (apps/gateway/src/access/access.decorator.ts):\n  ${unclassified.join('\n  ')}`,
      );
    }
    // Not vacuous: the routes known today are among those checked.
    expect(tested).toEqual(
      expect.arrayContaining([
        'POST /v1/collections',
        'GET /v1/collections/{name}',
        'POST /v1/collections/{name}/photos',
        'POST /v1/jobs/{id}/photos',
        'POST /v1/jobs/{id}/seal',
        'GET /v1/jobs/{id}',
        'GET /v1/jobs/{id}/results',
        'POST /v1/keys',
        'GET /v1/keys',
        'DELETE /v1/keys/{id}',
      ]),
    );
    // B as the admin sees it (stats, job, results, and every other GET of a collection or job) is as it was.
    expect(await bViews()).toEqual(apiBefore);
  });

  it('answers the same body as the route does for a truly missing collection or job', async () => {
    for (const { method, path: p, access } of await documentedRoutes()) {
      const resource = access?.rule?.kind === 'scoped' ? access.rule.resource : undefined;
      if (method !== 'GET' || !resource || resource.kind === 'face' || [...p.matchAll(/\{/g)].length !== 1) continue;
      const missing = resource.kind === 'collection' ? 'tenant-nowhere' : 'j000000000000000000000000';
      const res = await gw.fetch(p.replace(/\{[^}]+\}/, missing), { headers: admin });
      expect({ route: p, status: res.status, body: res.body }).toEqual({ route: p, status: 404, body: missingBody(resource.kind, missing) });
    }
  });

  /** What the admin reads of B through every GET route that takes only B's collection or job. */
  async function bViews(): Promise<Record<string, unknown>> {
    const views: Record<string, unknown> = {};
    for (const { method, path: p, access } of await documentedRoutes()) {
      const resource = access?.rule?.kind === 'scoped' ? access.rule.resource : undefined;
      if (method !== 'GET' || !resource || resource.kind === 'face' || [...p.matchAll(/\{/g)].length !== 1) continue;
      const res = await gw.fetch(p.replace(/\{[^}]+\}/, ofB[resource.kind]), { headers: admin, signal: AbortSignal.timeout(5_000) }).catch((e: Error) => ({ status: e.name, body: undefined }));
      views[p] = { status: res.status, body: res.body };
    }
    expect(views['/v1/collections/{name}']).toEqual({ status: 200, body: { name: B, createdAt: expect.any(String), photos: 0, faces: 0, people: 0, threshold: 0.34 } });
    expect(views['/v1/jobs/{id}']).toMatchObject({ status: 200, body: { id: ofB.job, total: 1, sealed: false } });
    return views;
  }
});
