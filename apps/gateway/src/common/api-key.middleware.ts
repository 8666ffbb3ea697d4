import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { ErrorBody } from './api-error';

/** Probes that orchestrators and Prometheus call without credentials. */
export const OPEN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * With an API key configured, every request but the probes needs `x-api-key: <key>`, compared in
 * constant time. Mounted on Express before the body parsers, so an unauthenticated upload is
 * refused before it is read, and before Swagger's routes, so the docs are covered too.
 */
export function apiKeyMiddleware(apiKey: string | undefined) {
  const expected = apiKey ? digest(apiKey) : undefined;
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!expected || OPEN_PATHS.has(req.path)) return next();
    const given = req.headers['x-api-key'];
    if (typeof given === 'string' && given.length > 0 && timingSafeEqual(digest(given), expected)) return next();
    const body: ErrorBody = {
      error: { code: 'UNAUTHORIZED', message: given === undefined ? 'Missing x-api-key header' : 'Invalid API key' },
    };
    res.status(401).json(body);
  };
}

/** Hashing first makes the comparison constant-time regardless of the lengths. */
function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}
