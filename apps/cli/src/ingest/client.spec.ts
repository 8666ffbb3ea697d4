import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError, GatewayClient, UnreachableError } from './client';

/** A server answering from a script of [status, body] per request, logging what it got. */
async function scripted(answers: [number, unknown][]) {
  const got: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      got.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      const [status, answer] = answers.shift() ?? [500, { error: { code: 'SCRIPT_ENDED', message: 'no more answers' } }];
      res.writeHead(status, { 'content-type': 'application/json' }).end(typeof answer === 'string' ? answer : JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got, close: () => new Promise((r) => server.close(r)) };
}

const job = { id: 'j1', collection: 'c', state: 'running', sealed: true, total: 1, done: 0, failed: 0, faces: 0, createdAt: 'now' };

describe('GatewayClient', () => {
  it('retries an idempotent request after a transient answer', async () => {
    const s = await scripted([[503, { error: { code: 'NOT_READY', message: 'x' } }], [500, 'oops'], [200, job]]);
    try {
      const c = new GatewayClient({ server: s.url + '/', retryDelaysMs: [1, 1, 1], apiKey: 'k' });
      expect(await c.job('j1')).toEqual(job);
      expect(s.got.map((g) => g.url)).toEqual(['/v1/jobs/j1', '/v1/jobs/j1', '/v1/jobs/j1']);
      expect(s.got[0].headers['x-api-key']).toBe('k');
    } finally {
      await s.close();
    }
  });

  it('never retries a job creation after a 500 (it may have happened); errors carry the API code', async () => {
    const s = await scripted([[500, { error: { code: 'INTERNAL_ERROR', message: 'Internal server error' } }]]);
    try {
      const c = new GatewayClient({ server: s.url, retryDelaysMs: [1, 1] });
      const err = await c.submitPaths({ collection: 'c' }, [{ key: 'a', path: '/a' }], { seal: false, webhook: 'https://h/x' }).catch((e) => e);
      expect(err).toBeInstanceOf(ApiError);
      expect([err.status, err.code, err.message]).toEqual([500, 'INTERNAL_ERROR', 'Internal server error']);
      expect(s.got).toHaveLength(1);
      expect(JSON.parse(s.got[0].body)).toEqual({ items: [{ key: 'a', path: '/a' }], webhook: { url: 'https://h/x' }, seal: false });
    } finally {
      await s.close();
    }
  });

  it('maps a non-JSON error answer to HTTP_<status>', async () => {
    const s = await scripted([[418, '<html>teapot</html>']]);
    try {
      const err = await new GatewayClient({ server: s.url }).seal('j1').catch((e) => e);
      expect([err.code, err.message]).toEqual(['HTTP_418', 'HTTP 418: <html>teapot</html>']);
    } finally {
      await s.close();
    }
  });

  it('404 collection → null; 409 on create → exists', async () => {
    const s = await scripted([[404, { error: { code: 'COLLECTION_NOT_FOUND', message: 'no' } }], [409, { error: { code: 'COLLECTION_EXISTS', message: 'yes' } }]]);
    try {
      const c = new GatewayClient({ server: s.url });
      expect(await c.getCollection('c')).toBeNull();
      expect(await c.createCollection('c')).toBe('exists');
    } finally {
      await s.close();
    }
  });

  it('a server that never answered is reported at once, not retried', async () => {
    const s = await scripted([]);
    await s.close();
    const started = Date.now();
    const err = await new GatewayClient({ server: s.url, retryDelaysMs: [5000] }).job('j1').catch((e) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect(err.reason).toBe('ECONNREFUSED');
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
