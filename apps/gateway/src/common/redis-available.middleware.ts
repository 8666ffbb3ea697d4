import type { NextFunction, Request, Response } from 'express';
import type { Redis } from 'ioredis';
import type { ErrorBody } from './api-error';
import { OPEN_PATHS } from './api-key.middleware';

/** Seconds a client is told to wait before it tries again. */
const RETRY_AFTER_S = 5;
/** How long a request waits for Redis: the connection is being made at start-up, or coming back. */
const WAIT_MS = 2_000;
/** How often Redis is asked for a PING while it answers, and how often a waiting request looks again. */
const PROBE_MS = 500;
const RECHECK_MS = 100;

/**
 * Answers 503 SERVICE_UNAVAILABLE while Redis is unreachable. Every route needs Redis, and the
 * connection queues commands until Redis is back (as BullMQ's worker requires), so a request would
 * otherwise hang for the whole outage while clients and proxies pile up connections. Unreachable
 * means the connection is down, or it is up but a PING has gone unanswered for WAIT_MS (a frozen
 * Redis, or one cut off without a reset, keeps the connection `ready`). A request that finds Redis
 * unreachable waits up to WAIT_MS for it (it is still connecting right after start-up, or coming
 * back after a blip). The probes and /metrics still answer (/readyz says 503 NOT_READY itself). A
 * request already running when Redis goes away finishes once it is back.
 */
export function redisAvailable(redis: Redis) {
  // At most one PING in flight: while it is unanswered for WAIT_MS, Redis counts as unreachable.
  let pingSentAt: number | null = null;
  const probe = setInterval(() => {
    if (pingSentAt !== null || redis.status !== 'ready') return;
    const sent = (pingSentAt = Date.now());
    const settle = () => {
      if (pingSentAt === sent) pingSentAt = null;
    };
    redis.ping().then(settle, settle);
  }, PROBE_MS);
  probe.unref();
  redis.once('end', () => clearInterval(probe)); // closed for good: the gateway is stopping
  const reachable = () => redis.status === 'ready' && (pingSentAt === null || Date.now() - pingSentAt < WAIT_MS);

  return (req: Request, res: Response, next: NextFunction): void => {
    if (OPEN_PATHS.has(req.path) || reachable()) return next();
    const giveUpAt = Date.now() + WAIT_MS;
    const check = () => {
      if (reachable()) return next();
      if (Date.now() < giveUpAt) return void setTimeout(check, RECHECK_MS);
      const body: ErrorBody = { error: { code: 'SERVICE_UNAVAILABLE', message: 'The service cannot reach Redis; try again shortly' } };
      res.status(503).set('retry-after', String(RETRY_AFTER_S)).json(body);
    };
    check();
  };
}
