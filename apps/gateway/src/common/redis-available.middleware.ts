import type { NextFunction, Request, Response } from 'express';
import type { Redis } from 'ioredis';
import type { ErrorBody } from './api-error';
import { OPEN_PATHS } from './api-key.middleware';

/** Seconds a client is told to wait before it tries again. */
const RETRY_AFTER_S = 5;

/**
 * Answers 503 SERVICE_UNAVAILABLE at once while the connection to Redis is down. Every route needs
 * Redis, and the connection queues commands until Redis is back (as BullMQ's worker requires), so
 * a request would otherwise hang for the whole outage while clients and proxies pile up
 * connections. The probes and /metrics still answer (/readyz says 503 NOT_READY itself). A request
 * already running when Redis goes down finishes once it is back.
 */
export function redisAvailable(redis: Redis) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (redis.status === 'ready' || OPEN_PATHS.has(req.path)) return next();
    const body: ErrorBody = { error: { code: 'SERVICE_UNAVAILABLE', message: 'The service cannot reach Redis; try again shortly' } };
    res.status(503).set('retry-after', String(RETRY_AFTER_S)).json(body);
  };
}
