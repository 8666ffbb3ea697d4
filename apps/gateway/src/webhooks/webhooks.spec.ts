import { QUEUES } from '@facepipe/contracts';
import { WEBHOOK_JOB_OPTIONS, enqueueWebhook, webhookBackoffMs, webhookEventId } from '@facepipe/pipeline';
import { createHmac } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Json, type TestGateway, sleep, startTestGateway, waitFor } from '../testing/test-gateway';
import { WebhookTargetRefused, sendWebhook, signWebhook } from './webhook-sender';
import { WebhookSweep } from './webhook-sweep';

interface Received {
  headers: IncomingHttpHeaders;
  raw: string;
  body: Json;
}

/**
 * A webhook receiver on 127.0.0.1 answering with the given statuses in turn (the last one
 * repeats); 0 means never answer (the sender's timeout ends it).
 */
async function receiver(statuses: number[]): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (raw += d));
    req.on('end', () => {
      received.push({ headers: req.headers, raw, body: JSON.parse(raw) });
      const status = statuses[Math.min(received.length - 1, statuses.length - 1)];
      if (status > 0) res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('webhook delivery', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway({
      FACEPIPE_ALLOW_PRIVATE_URLS: 'true',
      FACEPIPE_WEBHOOK_BACKOFF_MS: '50',
      FACEPIPE_WEBHOOK_TIMEOUT_MS: '1000',
      FACEPIPE_PATH_ROOTS: '/srv/photos',
    });
    await gw.fetch('/v1/collections', { method: 'POST', json: { name: 'hooks' } });
  });

  afterAll(async () => {
    await gw.close();
  });

  /** Submits photos with a webhook, then settles every one as the matcher would. */
  async function completedJob(url: string, secret?: string): Promise<string> {
    const keys = ['a.jpg', 'b.jpg'];
    const res = await gw.fetch('/v1/collections/hooks/photos', {
      method: 'POST',
      json: { items: keys.map((k) => ({ path: `/srv/photos/${k}` })), webhook: { url, ...(secret ? { secret } : {}) } },
    });
    expect(res.status).toBe(202);
    const { jobId } = res.body;
    let completedNow = false;
    for (const key of keys) {
      completedNow = (await gw.jobStore.settlePhoto(jobId, { key: `/srv/photos/${key}`, status: 'done', faces: [] })).completedNow;
    }
    expect(completedNow).toBe(true);
    await enqueueWebhook(gw.queues, gw.jobStore, jobId);
    await enqueueWebhook(gw.queues, gw.jobStore, jobId); // a second sighting is a no-op
    return jobId;
  }

  it('POSTs the signed job.completed event exactly once', async () => {
    const hook = await receiver([204]);
    try {
      const secret = 'whsec_test';
      const jobId = await completedJob(hook.url, secret);
      await waitFor('the webhook', () => hook.received.length > 0);
      await sleep(500);
      expect(hook.received).toHaveLength(1);

      const [{ headers, raw, body }] = hook.received;
      expect(headers['content-type']).toBe('application/json');
      expect(headers['x-facepipe-event-id']).toBe(`evt_${jobId}`);
      expect(headers['x-facepipe-event-id']).toBe(webhookEventId(jobId));
      const ts = String(headers['x-facepipe-timestamp']);
      expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(60);
      const expected = 'sha256=' + createHmac('sha256', secret).update(`${ts}.${raw}`).digest('hex');
      expect(headers['x-facepipe-signature']).toBe(expected);
      expect(body.event).toBe('job.completed');
      expect(body.job).toMatchObject({ id: jobId, collection: 'hooks', state: 'completed', sealed: true, total: 2, done: 2, webhook: { url: hook.url } });
      expect(raw).not.toContain(secret);

      await waitFor('the delivery record', async () => (await gw.fetch(`/v1/jobs/${jobId}`)).body.webhook.deliveries.length === 1);
      const view = await gw.fetch(`/v1/jobs/${jobId}`);
      expect(view.body.webhook.deliveries).toEqual([{ at: expect.any(String), status: 204 }]);
      const metrics = await gw.fetch('/metrics');
      expect(metrics.text).toMatch(/facepipe_webhook_deliveries_total\{[^}]*outcome="delivered"[^}]*\} [1-9]/);
    } finally {
      await hook.close();
    }
  });

  it('retries a failing receiver with backoff and delivers once, keeping the event id', async () => {
    const hook = await receiver([500, 500, 200]);
    try {
      const jobId = await completedJob(hook.url);
      await waitFor('three attempts', () => hook.received.length >= 3);
      await sleep(400);
      expect(hook.received).toHaveLength(3);
      expect(new Set(hook.received.map((r) => r.headers['x-facepipe-event-id']))).toEqual(new Set([`evt_${jobId}`]));
      // No secret, no signature.
      expect(hook.received[0].headers['x-facepipe-signature']).toBeUndefined();
      expect(hook.received[0].headers['x-facepipe-timestamp']).toBeUndefined();

      await waitFor('the notify job to complete', async () => (await gw.queues.get(QUEUES.notify).getJobState(`evt_${jobId}`)) === 'completed');
      const view = await gw.fetch(`/v1/jobs/${jobId}`);
      expect(view.body.webhook.deliveries.map((d: { status: number }) => d.status)).toEqual([500, 500, 200]);
      expect(view.body.webhook.deliveries[0]).toMatchObject({ error: 'HTTP 500' });
      // Later attempts carry the earlier ones in the job view.
      expect(hook.received[2].body.job.webhook.deliveries).toHaveLength(2);
    } finally {
      await hook.close();
    }
  });

  it('fires when sealing a job whose photos have all settled already', async () => {
    const hook = await receiver([200]);
    try {
      const res = await gw.fetch('/v1/collections/hooks/photos', {
        method: 'POST',
        json: { items: [{ path: '/srv/photos/s.jpg' }], webhook: { url: hook.url, secret: 'x' }, seal: false },
      });
      const { jobId } = res.body;
      expect((await gw.jobStore.settlePhoto(jobId, { key: '/srv/photos/s.jpg', status: 'done', faces: [] })).completedNow).toBe(false);
      await sleep(200);
      expect(hook.received).toHaveLength(0); // not sealed: more photos may come
      const sealed = await gw.fetch(`/v1/jobs/${jobId}/seal`, { method: 'POST' });
      expect(sealed.body).toMatchObject({ sealed: true, state: 'completed' });
      await waitFor('the webhook', () => hook.received.length === 1);
      expect(hook.received[0].body.job).toMatchObject({ id: jobId, state: 'completed', done: 1 });
      await gw.fetch(`/v1/jobs/${jobId}/seal`, { method: 'POST' }); // sealing again fires nothing
      await sleep(300);
      expect(hook.received).toHaveLength(1);
    } finally {
      await hook.close();
    }
  });

  it('sealing again enqueues the webhook a gateway died before enqueueing', async () => {
    const hook = await receiver([200]);
    try {
      const res = await gw.fetch('/v1/collections/hooks/photos', {
        method: 'POST',
        json: { items: [{ path: '/srv/photos/t.jpg' }], webhook: { url: hook.url }, seal: false },
      });
      const { jobId } = res.body;
      await gw.jobStore.settlePhoto(jobId, { key: '/srv/photos/t.jpg', status: 'done', faces: [] });
      // The store sealed and completed the job, then the gateway "died": no webhook was enqueued.
      expect((await gw.jobStore.seal(jobId)).completedNow).toBe(true);
      await sleep(200);
      expect(hook.received).toHaveLength(0);
      const again = await gw.fetch(`/v1/jobs/${jobId}/seal`, { method: 'POST' });
      expect(again.body).toMatchObject({ sealed: true, state: 'completed' });
      await waitFor('the webhook', () => hook.received.length === 1);
      await gw.fetch(`/v1/jobs/${jobId}/seal`, { method: 'POST' }); // the event fires once
      await sleep(300);
      expect(hook.received).toHaveLength(1);
    } finally {
      await hook.close();
    }
  });

  it("the next gateway's boot sends the webhook a gateway died before enqueueing, once", async () => {
    const hook = await receiver([200]);
    let next: TestGateway | undefined;
    /** A completed job whose webhook was never enqueued: the store sealed it, the gateway "died". */
    const lostWebhook = async (key: string) => {
      const res = await gw.fetch('/v1/collections/hooks/photos', { method: 'POST', json: { items: [{ path: `/srv/photos/${key}` }], webhook: { url: hook.url }, seal: false } });
      await gw.jobStore.settlePhoto(res.body.jobId, { key: `/srv/photos/${key}`, status: 'failed', faces: [], error: { code: 'IMAGE_DECODE_FAILED', message: 'x' } });
      expect((await gw.jobStore.seal(res.body.jobId)).completedNow).toBe(true);
      return res.body.jobId as string;
    };
    try {
      const lost = await lostWebhook('lost.jpg');
      const old = await lostWebhook('old.jpg');
      // Finished two days ago: past the resend window, assumed delivered.
      await gw.redis.hset(gw.jobStore.keys(old).meta, 'finishedAt', new Date(Date.now() - 2 * 86_400_000).toISOString());
      await sleep(200);
      expect(hook.received).toHaveLength(0);
      next = await startTestGateway({ FACEPIPE_PREFIX: gw.prefix, FACEPIPE_ALLOW_PRIVATE_URLS: 'true' });
      await waitFor('the lost webhook', () => hook.received.length === 1);
      expect(hook.received[0].body).toMatchObject({ event: 'job.completed', job: { id: lost, state: 'failed' } });
      expect(await next.app.get(WebhookSweep).sweep()).toBeGreaterThanOrEqual(1); // again: known events are not re-sent
      await sleep(300);
      expect(hook.received).toHaveLength(1);
      expect(await gw.queues.get(QUEUES.notify).getJob(webhookEventId(old))).toBeUndefined();
    } finally {
      await next?.close();
      await hook.close();
    }
  });

  it('times out a receiver that does not answer, then retries', async () => {
    const hook = await receiver([0, 200]);
    try {
      const jobId = await completedJob(hook.url);
      await waitFor('the retry', () => hook.received.length >= 2);
      await waitFor('two delivery records', async () => (await gw.fetch(`/v1/jobs/${jobId}`)).body.webhook.deliveries.length === 2);
      const { deliveries } = (await gw.fetch(`/v1/jobs/${jobId}`)).body.webhook;
      expect(deliveries[0]).toEqual({ at: expect.any(String), status: null, error: 'timed out after 1000 ms' });
      expect(deliveries[1]).toEqual({ at: expect.any(String), status: 200 });
    } finally {
      await hook.close();
    }
  });

  it('dead-letters the last failed attempt: the notify job stays failed', async () => {
    const hook = await receiver([503]);
    try {
      const res = await gw.fetch('/v1/collections/hooks/photos', {
        method: 'POST',
        json: { items: [{ path: '/srv/photos/z.jpg' }], webhook: { url: hook.url } },
      });
      const { jobId } = res.body;
      await gw.jobStore.settlePhoto(jobId, { key: '/srv/photos/z.jpg', status: 'failed', faces: [], error: { code: 'X', message: 'x' } });
      // Enqueue with 2 attempts instead of 40 so that the test ends.
      await gw.queues.get(QUEUES.notify).add('deliver', { jobId, eventId: webhookEventId(jobId) }, { ...WEBHOOK_JOB_OPTIONS, attempts: 2, jobId: webhookEventId(jobId) });
      await waitFor('the dead letter', async () => (await gw.queues.get(QUEUES.notify).getJobState(webhookEventId(jobId))) === 'failed');
      expect(hook.received).toHaveLength(2);
      expect((await gw.fetch(`/v1/jobs/${jobId}`)).body.webhook.deliveries.map((d: { status: number }) => d.status)).toEqual([503, 503]);
      expect((await gw.fetch('/metrics')).text).toMatch(/facepipe_webhook_deliveries_total\{[^}]*outcome="dead"[^}]*\} 1/);
    } finally {
      await hook.close();
    }
  });

  it('records a network failure (status null) and keeps retrying', async () => {
    const hook = await receiver([200]);
    const url = hook.url;
    await hook.close(); // nothing listens there now
    const jobId = await completedJob(url);
    await waitFor('two failed attempts', async () => ((await gw.fetch(`/v1/jobs/${jobId}`)).body.webhook.deliveries.length ?? 0) >= 2);
    const [first] = (await gw.fetch(`/v1/jobs/${jobId}`)).body.webhook.deliveries;
    expect(first).toMatchObject({ status: null, error: expect.stringMatching(/ECONNREFUSED/) });
    const state = await gw.queues.get(QUEUES.notify).getJobState(`evt_${jobId}`);
    expect(['delayed', 'waiting', 'active', 'prioritized']).toContain(state);
    await gw.queues.get(QUEUES.notify).remove(`evt_${jobId}`).catch(() => 0);
  });
});

describe('webhook sender', () => {
  it('refuses loopback/private targets unless private URLs are allowed', async () => {
    const req = { url: 'http://127.0.0.1:9/hook', eventId: 'evt_x', body: '{}' };
    await expect(sendWebhook(req, { timeoutMs: 1000, allowPrivate: false })).rejects.toBeInstanceOf(WebhookTargetRefused);
    await expect(sendWebhook({ ...req, url: 'http://[::ffff:10.0.0.1]/hook' }, { timeoutMs: 1000, allowPrivate: false })).rejects.toBeInstanceOf(WebhookTargetRefused);
    // A DNS name is checked at connect time, on the address it resolves to.
    await expect(sendWebhook({ ...req, url: 'http://localhost:9/hook' }, { timeoutMs: 1000, allowPrivate: false })).rejects.toMatchObject({ code: 'URL_NOT_ALLOWED' });
  });

  it('does not follow redirects', async () => {
    const hits: string[] = [];
    const server = http.createServer((req, res) => {
      hits.push(req.url ?? '');
      req.resume();
      res.writeHead(302, { location: '/elsewhere' }).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      expect(await sendWebhook({ url, eventId: 'evt_x', body: '{}' }, { timeoutMs: 1000, allowPrivate: true })).toBe(302);
      expect(hits).toEqual(['/hook']);
    } finally {
      server.close();
    }
  });
});

describe('webhook retry policy', () => {
  it('doubles from the base delay, caps at 1 h and keeps trying for more than 24 h', () => {
    expect(webhookBackoffMs(1, 2_000)).toBe(2_000);
    expect(webhookBackoffMs(2, 2_000)).toBe(4_000);
    expect(webhookBackoffMs(30, 2_000)).toBe(3_600_000);
    const attempts = WEBHOOK_JOB_OPTIONS.attempts!;
    let total = 0;
    for (let n = 1; n < attempts; n++) total += webhookBackoffMs(n);
    expect(total).toBeGreaterThan(24 * 3_600_000);
    expect(WEBHOOK_JOB_OPTIONS.removeOnFail).toBe(false); // dead letters stay in the failed set
  });

  it('signs timestamp.body with HMAC-SHA256', () => {
    expect(signWebhook('k', 1700000000, '{}')).toBe('sha256=' + createHmac('sha256', 'k').update('1700000000.{}').digest('hex'));
  });
});
