import { ROOT, freePort, hasRedisServer, startPrivateRedis } from '@facepipe/testing';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type TestGateway, startTestGateway } from '../testing/test-gateway';

describe('probes, metrics and docs', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway();
  });

  afterAll(async () => {
    await gw.close();
  });

  it('GET /healthz and /readyz', async () => {
    expect(await gw.fetch('/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await gw.fetch('/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } });
  });

  it('GET /metrics: request counts, latency and queue depths by queue and state', async () => {
    await gw.fetch('/v1/collections', { method: 'POST', json: { name: 'metrics' } });
    await gw.fetch('/v1/collections/metrics/photos', { method: 'POST', json: { items: [{ url: 'https://e.com/1.jpg' }, { url: 'https://e.com/2.jpg' }] } });
    const res = await gw.fetch('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(res.text).toMatch(/facepipe_http_requests_total\{[^}]*route="\/v1\/collections"[^}]*status="201"[^}]*\} 1/);
    expect(res.text).toMatch(/facepipe_http_request_seconds_bucket\{/);
    for (const queue of ['detect', 'embed', 'match', 'notify']) {
      for (const state of ['waiting', 'prioritized', 'active', 'delayed']) {
        expect(res.text).toMatch(new RegExp(`facepipe_queue_depth\\{[^}]*queue="${queue}"[^}]*state="${state}"[^}]*\\} \\d+`));
      }
    }
    expect(res.text).toMatch(/facepipe_queue_depth\{[^}]*queue="detect"[^}]*state="prioritized"[^}]*\} 2/);
    expect(res.text).toContain('facepipe_webhook_deliveries_total');
  });

  it('serves the OpenAPI document at /docs-json listing every route, and the UI at /docs', async () => {
    const res = await gw.fetch('/docs-json');
    expect(res.status).toBe(200);
    const paths = res.body.paths as Record<string, Record<string, unknown>>;
    const routes = Object.entries(paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    expect(routes).toEqual(
      expect.arrayContaining([
        'POST /v1/collections',
        'GET /v1/collections/{name}',
        'POST /v1/collections/{name}/photos',
        'POST /v1/jobs/{id}/photos',
        'POST /v1/jobs/{id}/seal',
        'GET /v1/jobs/{id}',
        'GET /v1/jobs/{id}/results',
        'GET /healthz',
        'GET /readyz',
      ]),
    );
    const submit = paths['/v1/collections/{name}/photos'].post as { requestBody: { content: Record<string, unknown> } };
    expect(Object.keys(submit.requestBody.content).sort()).toEqual(['application/json', 'multipart/form-data']);
    const ui = await gw.fetch('/docs');
    expect(ui.status).toBe(200);
    expect(ui.headers.get('content-type')).toMatch(/text\/html/);
  });

  it('answers 503 on /readyz, and within 2 s on the API, while Redis is unreachable; serves again once it is back', async () => {
    const { Redis } = await import('ioredis');
    const redis = gw.app.get(Redis);
    redis.disconnect(); // the connection is down until connect() below
    const res = await gw.fetch('/readyz');
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('NOT_READY');
    // The API does not hang on the queued commands: after 2 s for the connection to come back, a 503 that says to retry.
    const started = Date.now();
    const api = await gw.fetch('/v1/collections/probe');
    expect({ status: api.status, code: api.body.error.code, retryAfter: api.headers.get('retry-after') }).toEqual({ status: 503, code: 'SERVICE_UNAVAILABLE', retryAfter: '5' });
    expect(Date.now() - started).toBeLessThan(4_000);
    expect((await gw.fetch('/healthz')).status).toBe(200); // alive all the same
    // A request made while the connection comes back waits for it rather than failing.
    const during = gw.fetch('/v1/collections/probe');
    setTimeout(() => void redis.connect().catch(() => undefined), 300);
    expect((await during).status).toBe(404);
  });
});

describe('a frozen Redis', () => {
  (hasRedisServer() ? it : it.skip)('answers 503 within seconds while Redis is frozen (the connection stays up), and serves again once it answers', async () => {
    const redis = await startPrivateRedis();
    const gw = await startTestGateway({ REDIS_URL: redis.url });
    try {
      expect((await gw.fetch('/v1/collections/frozen')).status).toBe(404);
      redis.freeze(); // SIGSTOP: no reset, no error, the connection stays 'ready'
      // A PING unanswered for 2 s tells (it hung for the whole freeze, however long); a request
      // arriving before that waits for Redis like one already running.
      await new Promise((r) => setTimeout(r, 3_000));
      const started = Date.now();
      const api = await gw.fetch('/v1/collections/frozen', { signal: AbortSignal.timeout(20_000) });
      expect({ status: api.status, code: api.body.error.code }).toEqual({ status: 503, code: 'SERVICE_UNAVAILABLE' });
      expect(Date.now() - started).toBeLessThan(4_000);
      redis.thaw();
      const back = await gw.fetch('/v1/collections/frozen');
      expect(back.status).toBe(404);
    } finally {
      redis.thaw();
      await gw.close();
      await redis.stop();
    }
  }, 60_000);

  (hasRedisServer() ? it : it.skip)('stops within seconds on SIGTERM while Redis is frozen (the built gateway, as a process)', async () => {
    const redis = await startPrivateRedis();
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'facepipe-gw-frozen-'));
    const port = await freePort();
    const child = spawn(process.execPath, [path.join(ROOT, 'dist/apps/gateway/main.js')], {
      env: { PATH: process.env.PATH, REDIS_URL: redis.url, PORT: String(port), HOST: '127.0.0.1', FACEPIPE_PREFIX: `frozen${port}`, FACEPIPE_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 30_000;
      while (!(await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false))) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the gateway did not start:\n${out}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      redis.freeze();
      const signalled = Date.now();
      child.kill('SIGTERM');
      await exited;
      // It waited out its whole 25 s grace on commands queued for the frozen Redis.
      expect(Date.now() - signalled).toBeLessThan(8_000);
      expect(out).toContain('shutting down without Redis');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      redis.thaw();
      await redis.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
