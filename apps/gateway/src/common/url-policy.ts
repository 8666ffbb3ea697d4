import { isPublicAddress } from '@facepipe/pipeline';
import { isIP } from 'node:net';
import { ApiError } from './api-error';

/**
 * Submit-time URL checks. They see only what the URL says; the connection-time checks (the
 * address a DNS name resolves to, redirects) happen where the connection is made: the detector
 * for photo URLs, webhook delivery for webhooks (`safeLookup`).
 */
export function checkPhotoUrl(raw: string, allowPrivate: boolean, field: string): URL {
  return checkUrl(raw, allowPrivate, 'URL_NOT_ALLOWED', 'photo URL', field);
}

export function checkWebhookUrl(raw: string, allowPrivate: boolean, field: string): URL {
  return checkUrl(raw, allowPrivate, 'WEBHOOK_URL_NOT_ALLOWED', 'webhook URL', field);
}

/** The IP address a URL names literally (IPv6 without brackets), or null for a DNS name. */
export function literalAddress(url: URL): string | null {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return isIP(host) ? host : null;
}

/**
 * True for a host that is loopback by name (`localhost`, `*.localhost`, with or without the
 * root's trailing dot, which DNS ignores) or a non-public literal address.
 */
export function isPrivateHost(url: URL): boolean {
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const ip = literalAddress(url);
  return ip !== null && !isPublicAddress(ip);
}

function checkUrl(raw: string, allowPrivate: boolean, code: string, what: string, field: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw ApiError.badRequest(code, `${field}: not a valid ${what}`, field);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw ApiError.badRequest(code, `${field}: a ${what} must be http or https, not ${url.protocol.replace(/:$/, '')}`, field);
  }
  // Port 0 is no port: Node would connect to the scheme's default one instead.
  if (url.port === '0') throw ApiError.badRequest(code, `${field}: a ${what} cannot use port 0`, field);
  if (!allowPrivate && isPrivateHost(url)) {
    throw ApiError.badRequest(code, `${field}: a ${what} must not point to a loopback, private or link-local address`, field);
  }
  return url;
}
