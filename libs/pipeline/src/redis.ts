import { Redis } from 'ioredis';
import { errorMessage } from './pipeline-error';

/** Reconnect delay: grows 100 ms per attempt up to 5 s, and never gives up. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(attempt * 100, 5_000);
}

/**
 * A long-lived connection for a process. `maxRetriesPerRequest: null` is what BullMQ workers
 * require (a blocking command must wait out a Redis restart, not fail after 20 retries), and the
 * retry strategy reconnects forever: a worker outlives a Redis failover instead of exiting.
 */
export function createRedis(url: string, name: string): Redis {
  const redis = new Redis(url, {
    connectionName: `facepipe:${name}`,
    maxRetriesPerRequest: null,
    retryStrategy: reconnectDelayMs,
  });
  // Without a listener ioredis prints every reconnect failure as "Unhandled error event"; report
  // one JSON line per outage instead (the next `ready` re-arms it).
  let reported = false;
  redis.on('error', (err: Error) => {
    if (reported) return;
    reported = true;
    const line = { time: new Date().toISOString(), level: 'error', stage: name, msg: 'redis connection error', error: err.message };
    process.stderr.write(`${JSON.stringify(line)}\n`);
  });
  redis.on('ready', () => {
    reported = false;
  });
  return redis;
}

/**
 * Whether Redis answers a PING within `timeoutMs`. A Redis that is frozen (SIGSTOP, a stuck host)
 * or cut off without a reset keeps the connection `ready` while no command returns: the status
 * alone does not tell.
 */
export async function redisAnswers(redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status !== 'ready') return false;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  try {
    return await Promise.race([redis.ping().then((pong) => pong === 'PONG', () => false), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `redis://:secret@host` → `redis://:***@host`: a URL that goes into error messages, logs or a
 * job's view (a webhook URL with credentials). One without a password comes back as it was.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = '***';
    return u.toString();
  } catch {
    return '<invalid URL>';
  }
}

/**
 * Fails fast, with a message that says what to do, when Redis is down at start-up: one attempt,
 * no reconnects, settled within about 3 s.
 */
export async function checkRedis(url: string, timeoutMs = 3_000): Promise<void> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    disconnectTimeout: 100, // a half-closed socket must not keep the process alive for 2 s
  });
  // ioredis reports the cause (ECONNREFUSED, ENOTFOUND …) here and only "Connection is closed" to
  // the caller: keep it for the message.
  let cause: Error | undefined;
  redis.on('error', (err: Error) => {
    cause ??= err;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    try {
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      await Promise.race([redis.connect().then(() => redis.ping()), deadline]);
    } catch (err) {
      const why = errorMessage(cause ?? err);
      throw new Error(`Redis is not reachable at URL: ${redactUrl(url)} (${why}). Start it with: redis-server --daemonize yes`);
    }
    // A database number the server lacks fails only ioredis' SELECT on connect; every command would
    // then go to database 0, beside whatever else lives there. Ask for it again and stop instead.
    const db = redis.options.db ?? 0;
    if (db !== 0) {
      await redis.select(db).catch((err: unknown) => {
        throw new Error(`REDIS_URL ${redactUrl(url)} names database ${db}, which this Redis does not have (${errorMessage(err)})`);
      });
    }
  } finally {
    clearTimeout(timer);
    // Disconnecting an already ended client arms a 2 s timer that nothing clears (ioredis 5).
    if (redis.status !== 'end') redis.disconnect();
  }
}
