import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { PipelineError } from './pipeline-error';

/**
 * The way back for synchronous calls (search, verify, detect, enroll, index operations): the
 * gateway enqueues a job that carries a request id, and whichever worker finishes it stores the
 * outcome under `<prefix>:reply:<id>` (with a TTL) and announces `<id> <outcome>` on
 * `<prefix>:replies`.
 *
 * The announcement carries the outcome so that the waiting gateway answers without another round
 * trip (a search is latency-bound; replies are a few KiB). Pub/sub alone can lose a message (a
 * gateway reconnecting to Redis at that moment), so the stored value is the truth: a waiter also
 * reads the key after every reconnect and once more at its deadline, and deletes it once answered.
 * Every gateway replica hears every announcement and ignores the ids it is not waiting for. A bare
 * `<id>` (workers of an earlier version) is still understood: the waiter then reads the key.
 */

/** What a worker sends back: the result, or an error with the HTTP status the gateway answers. */
export type Reply<T = unknown> = { ok: true; result: T } | { ok: false; error: { code: string; message: string; status: number } };

/** Long enough for a slow gateway to read it, short enough that abandoned replies go away. */
const REPLY_TTL_S = 300;

export function newRequestId(): string {
  return randomUUID();
}

/** Worker side: store and announce one reply. Idempotent, so a retried stage may send it again. */
export async function sendReply(redis: Redis, prefix: string, requestId: string, reply: Reply): Promise<void> {
  const json = JSON.stringify(reply);
  await redis
    .multi()
    .set(replyKey(prefix, requestId), json, 'EX', REPLY_TTL_S)
    .publish(`${prefix}:replies`, `${requestId} ${json}`)
    .exec();
}

const replyKey = (prefix: string, requestId: string) => `${prefix}:reply:${requestId}`;

/**
 * An error a worker answers a synchronous call with, and the gateway re-throws as it is: the code
 * and the HTTP status (e.g. 422 NO_FACE, 404 IDENTITY_NOT_FOUND, 504 REQUEST_TIMEOUT).
 */
export class RequestError extends Error {
  override readonly name = 'RequestError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Worker side: the reply for an error. Errors of the input (a RequestError or PipelineError with a
 * 4xx status) keep their code and
 * status; anything else is a 500 whose message does not leak internals.
 */
export function errorReply(err: unknown): Reply<never> {
  if (err instanceof RequestError || err instanceof PipelineError) {
    return { ok: false, error: { code: err.code, message: err.message, status: err.status } };
  }
  return { ok: false, error: { code: 'INTERNAL_ERROR', message: err instanceof Error ? err.message : String(err), status: 500 } };
}

interface Pending {
  resolve(reply: Reply): void;
  timer: NodeJS.Timeout;
}

/** How long the read of a reply at its deadline may take before the caller gets its timeout. */
const DEADLINE_READ_MS = 1_000;

/**
 * Gateway side: one subscriber connection per process, shared by every request waiting for a reply.
 * Call `expect(id, timeoutMs)` BEFORE enqueueing the job, so an instant reply is not missed.
 */
export class ReplyWaiter {
  private readonly pending = new Map<string, Pending>();
  private readonly subscriber: Redis;
  private readonly ready: Promise<unknown>;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    this.subscriber = redis.duplicate({ connectionName: 'facepipe:replies' });
    this.subscriber.on('error', () => undefined); // the main connection reports outages
    this.subscriber.on('message', (_channel: string, message: string) => {
      const space = message.indexOf(' ');
      const id = space < 0 ? message : message.slice(0, space);
      if (!this.pending.has(id)) return;
      if (space < 0) void this.collect(id);
      else this.settle(id, message.slice(space + 1), true);
    });
    // After a reconnect (ioredis re-subscribes by itself) a reply may have been announced unheard.
    this.subscriber.on('ready', () => {
      for (const id of this.pending.keys()) void this.collect(id);
    });
    this.ready = this.subscriber.subscribe(`${prefix}:replies`);
  }

  /**
   * `wait()` resolves with the result, or rejects with a RequestError: the worker's error, or 504
   * REQUEST_TIMEOUT after `timeoutMs`.
   */
  async expect<T>(requestId: string, timeoutMs: number): Promise<{ wait: () => Promise<T> }> {
    await this.ready;
    const reply = new Promise<Reply>((resolve) => {
      const timer = setTimeout(() => void this.collect(requestId, true), timeoutMs);
      this.pending.set(requestId, { resolve, timer });
    });
    return {
      wait: async () => {
        const r = await reply;
        if (r.ok) return r.result as T;
        throw new RequestError(r.error.status, r.error.code, r.error.message);
      },
    };
  }

  /** Gives up on a request without waiting (e.g. enqueueing it failed). */
  cancel(requestId: string): void {
    const p = this.pending.get(requestId);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(requestId);
  }

  /** Reads (and deletes) the stored reply: after a reconnect, for a bare announcement, at the deadline. */
  private async collect(requestId: string, deadline = false): Promise<void> {
    let raw: string | null = null;
    let timer: NodeJS.Timeout | undefined;
    try {
      const read = this.redis.getdel(replyKey(this.prefix, requestId));
      // At the deadline the caller is answered even if Redis is down: the connection would hold
      // the read until Redis is back, however long that is.
      raw = deadline ? await Promise.race([read, new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), DEADLINE_READ_MS)))]) : await read;
    } catch {
      // Redis is down: at the deadline that is a timeout; otherwise the next wake-up retries.
    } finally {
      clearTimeout(timer);
    }
    if (raw !== null || deadline) this.settle(requestId, raw, false);
  }

  /** Answers a waiting request with `raw` (a stored reply) or, when null, a timeout. */
  private settle(requestId: string, raw: string | null, announced: boolean): void {
    const p = this.pending.get(requestId);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(requestId);
    // Answered from the announcement: the stored copy is no longer needed (its TTL is the backstop).
    if (announced) this.redis.del(replyKey(this.prefix, requestId)).catch(() => undefined);
    p.resolve(
      raw !== null
        ? (JSON.parse(raw) as Reply)
        : { ok: false, error: { code: 'REQUEST_TIMEOUT', message: 'no result within the request timeout; the request may still complete', status: 504 } },
    );
  }

  async close(): Promise<void> {
    for (const id of [...this.pending.keys()]) this.cancel(id);
    if (this.subscriber.status === 'ready') await this.subscriber.quit().catch(() => undefined);
    this.subscriber.disconnect();
  }
}
