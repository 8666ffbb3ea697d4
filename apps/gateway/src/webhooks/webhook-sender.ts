import { type Resolver, isPublicAddress, safeLookup } from '@facepipe/pipeline';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';

export interface WebhookRequest {
  url: string;
  eventId: string;
  body: string;
  secret?: string;
}

export interface SendOptions {
  timeoutMs: number;
  allowPrivate: boolean;
  /** Clock in unix seconds (tests). */
  now?: () => number;
  /** Tests only: a stand-in for `dns.lookup`. */
  resolve?: Resolver;
  /** Tests only: a stand-in for `isPublicAddress` (ignored when allowPrivate is set). */
  isAllowedAddress?: (ip: string) => boolean;
}

/** Raised when the target is refused by policy (not a network problem): retrying cannot help. */
export class WebhookTargetRefused extends Error {
  override readonly name = 'WebhookTargetRefused';
}

export const SIGNATURE_HEADER = 'x-facepipe-signature';
export const TIMESTAMP_HEADER = 'x-facepipe-timestamp';
export const EVENT_ID_HEADER = 'x-facepipe-event-id';

/** `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` */
export function signWebhook(secret: string, timestamp: number | string, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

export function webhookHeaders(req: WebhookRequest, timestamp: number): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'facepipe-webhook/1',
    [EVENT_ID_HEADER]: req.eventId,
  };
  if (req.secret) {
    headers[TIMESTAMP_HEADER] = String(timestamp);
    headers[SIGNATURE_HEADER] = signWebhook(req.secret, timestamp, req.body);
  }
  return headers;
}

/**
 * One delivery attempt: POSTs the body and resolves with the response status (any status; the
 * caller decides). Redirects are not followed. The connected address is checked by `safeLookup`
 * for DNS names and here for literal addresses (a literal skips the lookup). Rejects on network
 * errors and after `timeoutMs` for the whole exchange up to the response headers.
 */
export function sendWebhook(req: WebhookRequest, opts: SendOptions): Promise<number> {
  const url = new URL(req.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return Promise.reject(new WebhookTargetRefused(`webhook URL scheme ${url.protocol} is not allowed`));
  }
  const isAllowed = opts.allowPrivate ? () => true : (opts.isAllowedAddress ?? isPublicAddress);
  const literal = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(literal) && !isAllowed(literal)) {
    return Promise.reject(new WebhookTargetRefused(`webhook address ${literal} is not public`));
  }
  const timestamp = Math.floor((opts.now?.() ?? Date.now() / 1000));
  const body = Buffer.from(req.body, 'utf8');
  const headers = { ...webhookHeaders(req, timestamp), 'content-length': String(body.length) };
  const client = url.protocol === 'https:' ? https : http;

  return new Promise<number>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null, status?: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(status!);
    };
    const request = client.request(url, {
      method: 'POST',
      headers,
      agent: false, // a fresh connection per attempt: the address check runs every time
      lookup: safeLookup(opts.allowPrivate, { resolve: opts.resolve, isAllowed }),
    });
    const timer = setTimeout(() => {
      const err = new Error(`timed out after ${opts.timeoutMs} ms`);
      finish(err);
      request.destroy(err);
    }, opts.timeoutMs);
    request.on('response', (res) => {
      finish(null, res.statusCode ?? 0);
      // The status is all we need; don't wait for (or buffer) the body.
      res.resume();
      res.on('error', () => undefined);
      setImmediate(() => res.destroy());
    });
    request.on('error', (err) => finish(err));
    request.end(body);
  });
}
