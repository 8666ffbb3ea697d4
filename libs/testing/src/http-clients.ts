/**
 * Small HTTP helpers for end-to-end tests and benches: a JSON/multipart client for the gateway, the
 * paged results of a job, and a webhook receiver that checks each delivery's signature.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ApiResponse<T> {
  status: number;
  json: T;
}

/** One request to the gateway; a JSON body unless it is FormData. */
export async function api<T = unknown>(base: string, method: string, route: string, body?: unknown): Promise<ApiResponse<T>> {
  const init: RequestInit = { method };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) Object.assign(init, { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const res = await fetch(base + route, init);
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : undefined) as T };
}

export interface ResultItem {
  key: string;
  status: 'done' | 'failed';
  faces: { faceId: string; personId: string }[];
  error?: { code: string; message: string };
}

/** Every settled result of a job, page by page, in submission order (duplicates kept, if any). */
export async function allResults(base: string, jobId: string): Promise<ResultItem[]> {
  const items: ResultItem[] = [];
  let cursor: string | undefined;
  do {
    const page = await api<{ items: ResultItem[]; next?: string }>(base, 'GET', `/v1/jobs/${jobId}/results?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    if (page.status !== 200) throw new Error(`results of ${jobId}: HTTP ${page.status}`);
    items.push(...page.json.items);
    cursor = page.json.next;
  } while (cursor);
  return items;
}

export interface WebhookDelivery {
  at: number;
  eventId: string;
  /** What the receiver answered. */
  status: number;
  signatureOk: boolean;
  body: { event: string; job: { id: string; state: string; total: number; done: number; failed: number; faces: number } };
}

export interface WebhookReceiver {
  url: string;
  port: number;
  /** Every request received, including the ones answered with an error status. */
  deliveries: WebhookDelivery[];
  close(): Promise<void>;
}

/**
 * A local webhook endpoint. It verifies `x-facepipe-signature` (sha256 HMAC of "<timestamp>.<body>")
 * against `secret` and answers `answer(n)` to the n-th request (0-based; default always 200).
 */
export function webhookReceiver(secret: string, opts: { port?: number; answer?: (n: number) => number } = {}): Promise<WebhookReceiver> {
  const deliveries: WebhookDelivery[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      const ts = String(req.headers['x-facepipe-timestamp']);
      const expected = 'sha256=' + createHmac('sha256', secret).update(`${ts}.${raw}`).digest('hex');
      const status = opts.answer?.(deliveries.length) ?? 200;
      let body: WebhookDelivery['body'];
      try {
        body = JSON.parse(raw) as WebhookDelivery['body'];
      } catch {
        body = { event: 'unparseable', job: { id: '', state: '', total: 0, done: 0, failed: 0, faces: 0 } };
      }
      deliveries.push({ at: Date.now(), eventId: String(req.headers['x-facepipe-event-id']), status, signatureOk: req.headers['x-facepipe-signature'] === expected, body });
      res.writeHead(status).end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}/hook`,
        port,
        deliveries,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}
