import type { NextFunction, Request, Response } from 'express';
import type { Redis } from 'ioredis';
import type { ErrorBody } from './api-error';
import { OPEN_PATHS } from './api-key.middleware';

/** Seconds a client is told to wait before it tries again. */
const RETRY_AFTER_S = 5;
/** How long a request waits for the connection: it is being made at start-up, or coming back. */
const WAIT_MS = 2_000;

/**
 * Answers 503 SERVICE_UNAVAILABLE while the connection to Redis is down. Every route needs Redis,
 * and the connection queues commands until Redis is back (as BullMQ's worker requires), so a
 * request would otherwise hang for the whole outage while clients and proxies pile up
 * connections. A request that finds the connection not ready waits up to WAIT_MS for it (it is
 * still connecting right after start-up, or reconnecting after a blip). The probes and /metrics
 * still answer (/readyz says 503 NOT_READY itself). A request already running when Redis goes
 * down finishes once it is back.
 */
export function redisAvailable(redis: Redis) {
  let nextReady: Promise<void> | undefined;
  // One listener per outage, however many requests wait on it.
  const whenReady = () =>
    (nextReady ??= new Promise<void>((resolve) =>
      redis.once('ready', () => {
        nextReady = undefined;
        resolve();
      }),
    ));
  return (req: Request, res: Response, next: NextFunction): void => {
    if (redis.status === 'ready' || OPEN_PATHS.has(req.path)) return next();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), WAIT_MS)));
    void Promise.race([whenReady().then(() => true), timeout]).then((ready) => {
      clearTimeout(timer);
      if (ready) return next();
      const body: ErrorBody = { error: { code: 'SERVICE_UNAVAILABLE', message: 'The service cannot reach Redis; try again shortly' } };
      res.status(503).set('retry-after', String(RETRY_AFTER_S)).json(body);
    });
  };
}
