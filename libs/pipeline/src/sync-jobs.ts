import { PRIORITY, type SyncRequest } from '@facepipe/contracts';
import type { Job, JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { isLastAttempt } from './completion';
import { errorReply, sendReply } from './replies';

/**
 * Stage jobs of a synchronous call: ahead of bulk ingest, one retry (a client is waiting; a
 * second failure is answered rather than retried for longer than the caller waits), and nothing
 * kept once done, so a busy search endpoint does not fill Redis with finished jobs. Failed ones
 * stay an hour for debugging.
 */
export const SYNC_JOB_OPTIONS: JobsOptions = {
  attempts: 2,
  backoff: { type: 'fixed', delay: 250 },
  removeOnComplete: true,
  removeOnFail: { age: 3_600, count: 1_000 },
  priority: PRIORITY.sync,
};

/**
 * A synchronous call failed in a stage. A permanent error (the input: not an image, no face, a
 * refused URL…) is answered at once with its 4xx; anything else is thrown for BullMQ to retry, and
 * answered (5xx) on the last attempt. Returns what the stage job records as its result.
 */
export async function failSyncCall(redis: Redis, prefix: string, job: Job, requestId: string, err: unknown, permanent: boolean): Promise<{ failed: string }> {
  if (!permanent && !isLastAttempt(job)) throw err;
  const reply = errorReply(err);
  await sendReply(redis, prefix, requestId, reply);
  return { failed: reply.ok ? 'unknown' : reply.error.code };
}

/** The deadline is the gateway's clock, read by another machine's: a little slack for their skew. */
const CLOCK_SKEW_MS = 2_000;

/**
 * The caller of a synchronous call has stopped waiting (its gateway answered 504): nobody will read
 * the answer, so a stage that picks the call up now skips it instead of spending a worker on it.
 */
export function callerGaveUp(request: SyncRequest, now = Date.now()): boolean {
  return request.deadline !== undefined && now >= request.deadline + CLOCK_SKEW_MS;
}

/** What a synchronous call keeps for the stages after a URL fetch (detect, embed, match, reply). */
const ANSWER_MARGIN_MS = 1_000;

/**
 * How long a synchronous call's URL source may take to fetch: the configured limit, within the time
 * the caller still waits, so that a slow server is answered with URL_FETCH_FAILED rather than a
 * 504 while a detector slot is still held.
 */
export function syncFetchTimeoutMs(deadline: number | undefined, fetchTimeoutMs: number, now = Date.now()): number {
  if (deadline === undefined) return fetchTimeoutMs;
  return Math.max(1, Math.min(fetchTimeoutMs, deadline - now - ANSWER_MARGIN_MS));
}
