import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Scope } from '../access/access.decorator';
import { type Principal, setPrincipal } from '../access/principal';
import { keyDigest } from '../keys/keys.service';
import type { KeyView } from '../keys/keys.schemas';
import type { ErrorBody } from './api-error';

/** Probes that orchestrators and Prometheus call without credentials. */
export const OPEN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

/** Finds an issued key by its sha256 (KeysService). */
export interface IssuedKeys {
  findByDigest(digest: Buffer): Promise<KeyView | null>;
}

const ADMIN: Principal = { kind: 'admin', via: 'admin-key' };
const NO_KEY_CONFIGURED: Principal = { kind: 'admin', via: 'no-key-configured' };

/**
 * Resolves every request's principal from `x-api-key` (the probes excepted), or answers 401:
 * - the admin key (FACEPIPE_API_KEY), compared in constant time → admin over everything;
 * - an issued key (POST /v1/keys), found by its sha256 → limited to its collections and scopes;
 * - no key → admin only when no FACEPIPE_API_KEY is configured (a loopback-only development
 *   server; see assertSafeBinding), else 401; an unknown or revoked key → 401.
 * Mounted on Express before the body parsers, so an unauthenticated upload is refused before it
 * is read, and before Swagger's routes, so the docs are covered too. What a principal may do on
 * each route is the AccessGuard's business.
 */
export function apiKeyMiddleware(apiKey: string | undefined, keys: IssuedKeys) {
  const admin = apiKey ? keyDigest(apiKey) : undefined;
  return (req: Request, res: Response, next: NextFunction): void => {
    if (OPEN_PATHS.has(req.path)) return next();
    const given = req.headers['x-api-key'];
    if (given === undefined || given === '') {
      if (admin) return unauthorized(res, 'Missing x-api-key header');
      setPrincipal(req, NO_KEY_CONFIGURED);
      return next();
    }
    if (typeof given !== 'string') return unauthorized(res, 'Invalid API key');
    // Digests have equal lengths, so timingSafeEqual compares all 32 bytes whatever was sent.
    const digest = keyDigest(given);
    if (admin && timingSafeEqual(digest, admin)) {
      setPrincipal(req, ADMIN);
      return next();
    }
    // The lookup is a hash-table probe on the digest: its timing can only tell about the digest of
    // the wrong key that was sent, never about a stored key.
    keys.findByDigest(digest).then((record) => {
      if (!record) return unauthorized(res, 'Invalid API key');
      setPrincipal(req, { kind: 'key', id: record.id, collections: new Set(record.collections), scopes: new Set<Scope>(record.scopes), pathRoots: record.pathRoots });
      next();
    }, next);
  };
}

function unauthorized(res: Response, message: string): void {
  const body: ErrorBody = { error: { code: 'UNAUTHORIZED', message } };
  res.status(401).json(body);
}
