import { ConfigError } from '@facepipe/pipeline';
import { GatewayLogger } from './gateway-logger';
import { UnsafeBindingError, isLoopbackHost, loadGatewayConfig } from '../config/gateway-config';
import { createGatewayApp } from '../main';
import { type TestGateway, sleep, startTestGateway, testEnv } from '../testing/test-gateway';

describe('API key', () => {
  let gw: TestGateway;
  const key = 'k3y-for-tests';

  beforeAll(async () => {
    gw = await startTestGateway({ FACEPIPE_API_KEY: key });
  });

  afterAll(async () => {
    await gw.close();
  });

  it('requires x-api-key on the API and the docs: 401 without it or with a wrong one', async () => {
    const attempts: Record<string, string>[] = [{}, { 'x-api-key': 'wrong' }, { 'x-api-key': key + 'x' }, { 'x-api-key': '' }];
    for (const headers of attempts) {
      for (const p of ['/v1/collections/any', '/docs-json', '/docs']) {
        const res = await gw.fetch(p, { headers });
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('UNAUTHORIZED');
      }
    }
    // An upload is refused before it is read, and nothing is created.
    const res = await gw.fetch('/v1/collections', { method: 'POST', json: { name: 'nokey' } });
    expect(res.status).toBe(401);
    expect(await gw.redis.hexists(`${gw.prefix}:collections`, 'nokey')).toBe(0);
  });

  it('serves a request with the right key', async () => {
    const headers = { 'x-api-key': key };
    expect((await gw.fetch('/v1/collections', { method: 'POST', json: { name: 'withkey' }, headers })).status).toBe(201);
    const res = await gw.fetch('/v1/collections/withkey', { headers });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ name: 'withkey', createdAt: expect.any(String), photos: 0, faces: 0, people: 0, threshold: 0.34 });
    expect((await gw.fetch('/docs-json', { headers })).status).toBe(200);
  });

  it('leaves the probes and metrics open', async () => {
    expect((await gw.fetch('/healthz')).status).toBe(200);
    expect((await gw.fetch('/readyz')).status).toBe(200);
    expect((await gw.fetch('/metrics')).status).toBe(200);
  });
});

describe('start-up refusals', () => {
  it('refuses a non-loopback HOST without FACEPIPE_API_KEY, in one line naming the fix', async () => {
    for (const HOST of ['0.0.0.0', '::', '192.168.1.10', 'gateway.internal']) {
      const t = testEnv({ HOST });
      const err = await createGatewayApp(loadGatewayConfig(t.env), { skipRedisCheck: true }).then(
        () => null,
        (e: unknown) => e,
      );
      await t.cleanup();
      expect(err).toBeInstanceOf(UnsafeBindingError);
      expect((err as Error).message).toContain('FACEPIPE_API_KEY');
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('accepts a non-loopback HOST with a key, and loopback without one', async () => {
    const t = testEnv({ HOST: '0.0.0.0', FACEPIPE_API_KEY: 'x' });
    const app = await createGatewayApp(loadGatewayConfig(t.env), { logger: silent() });
    await app.init(); // built and started, not bound to 0.0.0.0
    await sleep(300); // let the notify worker finish starting (closing it mid-start leaves BullMQ's stalled-check timer)
    await app.close();
    await t.cleanup();
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '0:0:0:0:0:0:0:1']) expect(isLoopbackHost(host)).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '128.0.0.1']) expect(isLoopbackHost(host)).toBe(false);
  });

  it('says how to start Redis when it is unreachable', async () => {
    const t = testEnv({ REDIS_URL: 'redis://127.0.0.1:1' });
    await expect(createGatewayApp(loadGatewayConfig(t.env))).rejects.toThrow(/Redis is not reachable.*redis-server/);
    await t.cleanup();
  });

  it("names every bad variable, the gateway's own included", async () => {
    const t = testEnv({ FACEPIPE_WEBHOOK_BACKOFF_MS: 'soon', PORT: 'x' });
    let err: unknown;
    try {
      loadGatewayConfig(t.env);
    } catch (e) {
      err = e;
    }
    await t.cleanup();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/FACEPIPE_WEBHOOK_BACKOFF_MS/);
    expect((err as Error).message).toMatch(/PORT/);
  });
});

function silent(): GatewayLogger {
  return new GatewayLogger('gateway', { write: () => undefined });
}
