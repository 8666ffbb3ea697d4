import { ConfigError } from '@facepipe/pipeline';
import { type CanActivate, Controller, type ExecutionContext, Get, Module, Param, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import { ApiError } from '../common/api-error';
import { loadGatewayConfig, rateLimitOptions } from '../config/gateway-config';
import { type Json, type TestGateway, sleep, startTestGateway } from '../testing/test-gateway';
import { AccessRoutes } from './access-routes';
import { Access } from './access.decorator';
import { RateLimited, RateLimiter } from './rate-limit';

const ADMIN_KEY = 'admin-key-for-access-spec';
const admin = { 'x-api-key': ADMIN_KEY };

/** A route guard of the test's own, as CollectionExistsGuard is: 404 for names starting with "gone". */
class GoneGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.switchToHttp().getRequest<Request>().params.name?.toString().startsWith('gone')) throw new ApiError(404, 'NOT_FOUND', 'gone');
    return true;
  }
}

/** Routes of the tests' own: one that forgot its @Access declaration, one rate-limited sync-like call. */
@Controller('v1/test-access')
class TestRoutesController {
  @Get('undeclared/:name')
  undeclared(@Param('name') name: string) {
    return { name };
  }

  @Get('sync/:name')
  @Access('read', { collection: 'name' })
  @RateLimited()
  @UseGuards(GoneGuard)
  sync(@Param('name') name: string) {
    return { name };
  }
}

@Module({ controllers: [TestRoutesController] })
class TestRoutesModule {}

async function newKey(gw: TestGateway, collections: string[], scopes: string[]): Promise<Record<string, string>> {
  const res = await gw.fetch('/v1/keys', { method: 'POST', json: { collections, scopes }, headers: admin });
  expect(res.status).toBe(201);
  return { 'x-api-key': res.body.key };
}

describe('access declarations', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway({ FACEPIPE_API_KEY: ADMIN_KEY });
  });

  afterAll(async () => {
    await sleep(300); // let the notify worker finish starting (closing it mid-start leaves BullMQ's stalled-check timer)
    await gw.close();
  });

  it('every controller route of the gateway declares who may call it (@Access, @AdminKeyOnly or @PublicRoute)', () => {
    const routes = gw.app.get(AccessRoutes).list();
    // The enumeration itself works: the known routes are in it, with the declarations they carry.
    const find = (method: string, p: string) => routes.find((r) => r.method === method && r.path === p);
    expect(find('GET', '/v1/collections/:name')?.rule).toEqual({ kind: 'scoped', scope: 'read', resource: { kind: 'collection', param: 'name' } });
    expect(find('POST', '/v1/jobs/:id/seal')?.rule).toEqual({ kind: 'scoped', scope: 'write', resource: { kind: 'job', param: 'id' } });
    expect(find('POST', '/v1/keys')?.rule).toEqual({ kind: 'admin-key' });
    expect(find('GET', '/healthz')?.rule).toEqual({ kind: 'public' });
    expect(find('GET', '/metrics')?.rule).toEqual({ kind: 'public' });

    const undeclared = routes.filter((r) => !r.rule).map((r) => `${r.method} ${r.path} (${r.handler})`);
    if (undeclared.length > 0) {
      throw new Error(`These routes declare no access rule; add @Access(...), @AdminKeyOnly() or @PublicRoute() (apps/gateway/src/access/access.decorator.ts):\n  ${undeclared.join('\n  ')}`);
    }
    // A declared resource param must be a param of the route's path, or the guard would read nothing.
    const wrongParam = routes.filter((r) => r.rule?.kind === 'scoped' && r.rule.resource && !r.path.split('/').includes(`:${r.rule.resource.param}`));
    expect(wrongParam.map((r) => `${r.method} ${r.path}`)).toEqual([]);
  });
});

describe('fail closed and rate limits (routes of the test)', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway({ FACEPIPE_API_KEY: ADMIN_KEY, FACEPIPE_RATE_LIMIT: '2', FACEPIPE_RATE_LIMIT_BURST: '3' }, { extraModules: [TestRoutesModule] });
    for (const name of ['mine', 'theirs']) expect((await gw.fetch('/v1/collections', { method: 'POST', json: { name }, headers: admin })).status).toBe(201);
  });

  afterAll(async () => {
    await gw.close();
  });

  it('refuses a route without a declaration to every issued key, serves it to the admin key, and warns at start-up', async () => {
    const key = await newKey(gw, ['mine'], ['read', 'write', 'admin']);
    const res = await gw.fetch('/v1/test-access/undeclared/mine', { headers: key });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('FORBIDDEN');
    expect((await gw.fetch('/v1/test-access/undeclared/mine', { headers: admin })).body).toEqual({ name: 'mine' });
    const warning = gw.logs.map((l) => JSON.parse(l) as Json).find((l) => l.msg?.includes('no @Access declaration'));
    expect(warning).toMatchObject({ route: '/v1/test-access/undeclared/:name', handler: 'TestRoutesController.undeclared' });
  });

  it('answers 429 RATE_LIMITED with retry-after once a key has spent its burst, per key, and recovers', async () => {
    const one = await newKey(gw, ['mine'], ['read']);
    const two = await newKey(gw, ['mine'], ['read']);
    const call = (headers: Record<string, string>, name = 'mine') => gw.fetch(`/v1/test-access/sync/${name}`, { headers });

    // Refused calls take no token: another tenant's collection (the access guard), nor a 404 of
    // the route's own guard (as for a collection that does not exist).
    for (let i = 0; i < 5; i++) expect((await call(one, 'theirs')).status).toBe(404);
    for (let i = 0; i < 5; i++) expect((await call(admin, 'gone')).status).toBe(404);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(one)).status);
    expect(statuses).toEqual([200, 200, 200]); // the burst
    const limited = await call(one);
    expect(limited.status).toBe(429);
    expect(limited.body.error).toEqual({ code: 'RATE_LIMITED', message: expect.stringContaining('2 requests per second') });
    expect(limited.headers.get('retry-after')).toBe('1');

    // Another key and the admin key have buckets of their own.
    expect((await call(two)).status).toBe(200);
    expect((await call(admin)).status).toBe(200);

    // At 2 per second a token is back within retry-after.
    await sleep(Number(limited.headers.get('retry-after')) * 1000);
    expect((await call(one)).status).toBe(200);
  });

  it('takes tokens atomically: of 40 concurrent calls on a bucket of 10, exactly 10 pass', async () => {
    const limiter = new RateLimiter(gw.redis, { ...gw.config, rateLimit: 0.01, rateLimitBurst: 10 });
    const who = `concurrency-${Date.now()}`;
    const results = await Promise.all(Array.from({ length: 40 }, () => limiter.take(who)));
    expect(results.filter((r) => r.allowed)).toHaveLength(10);
    const refused = results.filter((r) => !r.allowed);
    expect(refused).toHaveLength(30);
    // At 0.01 per second the next token is up to 100 s away.
    for (const r of refused) expect(r.retryAfterMs).toBeGreaterThan(90_000);
    expect(await gw.redis.pttl(`${gw.prefix}:ratelimit:${who}`)).toBeGreaterThan(0); // idle buckets expire
  });

  it('reads FACEPIPE_RATE_LIMIT and FACEPIPE_RATE_LIMIT_BURST, 0 turning it off (and refuses a bad FACEPIPE_LOG_LEVEL)', async () => {
    const baseEnv = { REDIS_URL: gw.config.redisUrl, FACEPIPE_DATA_DIR: gw.dataDir };
    // Only the parsing is under test: no Redis keys or data directory are made for it.
    const read = (extra: Record<string, string>) => rateLimitOptions(loadGatewayConfig({ ...baseEnv, ...extra }));
    expect(read({})).toEqual({ perSecond: 10, burst: 20 });
    expect(read({ FACEPIPE_RATE_LIMIT: '0.5' })).toEqual({ perSecond: 0.5, burst: 1 });
    expect(read({ FACEPIPE_RATE_LIMIT: '.5' }).perSecond).toBe(0.5);
    expect(read({ FACEPIPE_RATE_LIMIT: '5', FACEPIPE_RATE_LIMIT_BURST: '7' })).toEqual({ perSecond: 5, burst: 7 });
    expect(read({ FACEPIPE_RATE_LIMIT: '0' }).perSecond).toBe(0);
    for (const [variable, value] of [
      ['FACEPIPE_RATE_LIMIT', 'fast'],
      ['FACEPIPE_RATE_LIMIT', '-1'],
      ['FACEPIPE_RATE_LIMIT', '.'],
      ['FACEPIPE_RATE_LIMIT_BURST', '0'],
      ['FACEPIPE_RATE_LIMIT_BURST', '2.5'],
      ['FACEPIPE_LOG_LEVEL', 'verbose'],
    ]) {
      expect(() => read({ [variable]: value })).toThrow(ConfigError);
      expect(() => read({ [variable]: value })).toThrow(new RegExp(variable));
    }
  });
});

describe('rate limit off (FACEPIPE_RATE_LIMIT=0)', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway({ FACEPIPE_RATE_LIMIT: '0', FACEPIPE_RATE_LIMIT_BURST: '1' }, { extraModules: [TestRoutesModule] });
    expect((await gw.fetch('/v1/collections', { method: 'POST', json: { name: 'mine' } })).status).toBe(201);
  });

  afterAll(async () => {
    await gw.close();
  });

  it('never answers 429 and keeps no bucket', async () => {
    for (let i = 0; i < 10; i++) expect((await gw.fetch('/v1/test-access/sync/mine')).status).toBe(200);
    expect(await gw.redis.keys(`${gw.prefix}:ratelimit:*`)).toEqual([]);
  });
});
