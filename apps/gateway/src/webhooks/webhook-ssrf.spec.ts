/**
 * Webhook URLs at delivery time (issue 6): the submit-time check (url-policy.spec.ts,
 * jobs/bad-input.spec.ts) sees only the URL; the address a name resolves to is checked on the
 * socket that connects, so a name that turns private after submission (DNS rebinding) is refused
 * too, and the refusal is final (no day of retries).
 *
 * 127.0.0.1 plays a public receiver through the `isAllowedAddress` seam; a second receiver on
 * 127.0.0.2 at the same port is the private target, and must never be reached.
 */
import { QUEUES } from '@facepipe/contracts';
import { PipelineError, type Resolver, enqueueWebhook } from '@facepipe/pipeline';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestGateway, startTestGateway, waitFor } from '../testing/test-gateway';
import { WebhookTargetRefused, sendWebhook } from './webhook-sender';

describe('webhook delivery: SSRF', () => {
  let port: number;
  let publicServer: http.Server;
  let privateServer: http.Server;
  let publicHits: number;
  let privateHits: number;

  const receiver = (count: () => void) =>
    http.createServer((req, res) => {
      count();
      req.resume();
      req.on('end', () => res.writeHead(204).end());
    });
  const listen = (s: http.Server, host: string, p: number) => new Promise<void>((resolve, reject) => s.once('error', reject).listen(p, host, () => resolve()));

  beforeAll(async () => {
    publicServer = receiver(() => publicHits++);
    privateServer = receiver(() => privateHits++);
    await listen(publicServer, '127.0.0.1', 0);
    port = (publicServer.address() as AddressInfo).port;
    await listen(privateServer, '127.0.0.2', port);
  });

  beforeEach(() => {
    publicHits = 0;
    privateHits = 0;
  });

  afterAll(async () => {
    for (const s of [publicServer, privateServer]) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  });

  const event = (url: string) => ({ url, eventId: 'evt_ssrf', body: '{}' });
  const standIn = (ip: string) => ip === '127.0.0.1' || ip === '127.0.0.3';
  function resolverOf(...answers: string[][]): Resolver & { calls: number } {
    const r = ((_host, _opts, cb) => {
      const list = answers[Math.min(r.calls, answers.length - 1)];
      r.calls++;
      cb(null, list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
    }) as Resolver & { calls: number };
    r.calls = 0;
    return r;
  }
  /** How an attempt ends: the status, or the kind of refusal / network error. */
  const attempt = (url: string, opts: Partial<Parameters<typeof sendWebhook>[1]> = {}) =>
    sendWebhook(event(url), { timeoutMs: 2000, allowPrivate: false, ...opts }).then(
      (status) => `HTTP ${status}`,
      (err: unknown) =>
        err instanceof WebhookTargetRefused ? 'refused' : err instanceof PipelineError ? err.code : `${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );

  it.each([
    ['loopback', () => `http://127.0.0.1:${port}/hook`, 'refused'],
    ['::1', () => `http://[::1]:${port}/hook`, 'refused'],
    ['::ffff:127.0.0.1', () => `http://[::ffff:127.0.0.1]:${port}/hook`, 'refused'],
    ['::ffff:169.254.169.254', () => 'http://[::ffff:169.254.169.254]/hook', 'refused'],
    ['fe80::1', () => `http://[fe80::1]:${port}/hook`, 'refused'],
    ['fc00::1', () => `http://[fc00::1]:${port}/hook`, 'refused'],
    ['NAT64 of 10.0.0.1', () => `http://[64:ff9b::a00:1]:${port}/hook`, 'refused'],
    ['decimal 2130706433', () => `http://2130706433:${port}/hook`, 'refused'],
    ['hex 0x7f000001', () => `http://0x7f000001:${port}/hook`, 'refused'],
    ['octal 0177.0.0.1', () => `http://0177.0.0.1:${port}/hook`, 'refused'],
    ['short 127.1', () => `http://127.1:${port}/hook`, 'refused'],
    ['the metadata service', () => 'http://169.254.169.254/latest/meta-data/', 'refused'],
    ['a name resolving to loopback', () => `http://localhost:${port}/hook`, 'URL_NOT_ALLOWED'],
    ['a file URL', () => 'file:///etc/passwd', 'refused'],
  ])('refuses %s by default, without sending', async (_what, url, outcome) => {
    expect(await attempt(url())).toBe(outcome);
    expect(publicHits + privateHits).toBe(0);
  });

  it('resolves once per attempt: a name that was public when checked cannot turn private for the connect', async () => {
    const resolve = resolverOf(['127.0.0.1'], ['127.0.0.2']);
    expect(await attempt(`http://hooks.test:${port}/hook`, { resolve, isAllowedAddress: standIn })).toBe('HTTP 204');
    expect(resolve.calls).toBe(1);
    expect(await attempt(`http://hooks.test:${port}/hook`, { resolve, isAllowedAddress: standIn })).toBe('URL_NOT_ALLOWED');
    expect(publicHits).toBe(1);
    expect(privateHits).toBe(0);
  });

  it('never falls back to a private address of an answer (public first, private second)', async () => {
    const resolve = resolverOf(['127.0.0.3', '127.0.0.2']); // 127.0.0.3: "public", nothing listens
    // Without the filter, the happy-eyeballs connect would fall through to the private receiver:
    expect(await attempt(`http://hooks.test:${port}/hook`, { resolve, isAllowedAddress: () => true })).toBe('HTTP 204');
    expect(privateHits).toBe(1);
    privateHits = 0;
    expect(await attempt(`http://hooks.test:${port}/hook`, { resolve, isAllowedAddress: standIn })).toBe('ECONNREFUSED');
    expect(privateHits).toBe(0);
  });

  describe('through the gateway', () => {
    let gw: TestGateway;

    beforeAll(async () => {
      gw = await startTestGateway({ FACEPIPE_WEBHOOK_BACKOFF_MS: '50', FACEPIPE_WEBHOOK_TIMEOUT_MS: '2000' });
    });

    afterAll(async () => {
      await gw?.close();
    });

    // A webhook stored as if its name had passed the submit-time check and turned private since
    // (submission itself refuses these: bad-input.spec.ts).
    it.each([
      ['a name that resolves to loopback', () => `http://localhost:${port}/hook`, /private or reserved address/],
      ['an IPv4-mapped loopback', () => `http://[::ffff:7f00:1]:${port}/hook`, /is not public/],
    ])('refuses %s at delivery, records it and does not retry', async (_what, url, error) => {
      const job = await gw.jobStore.create({ collection: 'hooks', sealed: true, webhook: { url: url() } });
      await enqueueWebhook(gw.queues, gw.jobStore, job.id);
      const notify = gw.queues.get(QUEUES.notify);
      await waitFor('the refused delivery', async () => (await notify.getJobState(`evt_${job.id}`)) === 'failed');
      const dead = await notify.getJob(`evt_${job.id}`);
      expect(dead?.attemptsMade).toBe(1); // final at once: retrying for a day cannot help
      const view = await gw.jobStore.get(job.id);
      expect(view?.webhook?.deliveries).toEqual([{ at: expect.any(String), status: null, error: expect.stringMatching(error) }]);
      expect(publicHits + privateHits).toBe(0);
    });
  });
});
