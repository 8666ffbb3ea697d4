import { QUEUES, type JobView, type NotifyJob, type PhotoResult } from '@facepipe/contracts';
import type { Job, JobsOptions } from 'bullmq';
import type { JobStore } from './job-store';
import type { Queues } from './queues';
import type { Redis } from 'ioredis';
import { sendReply } from './replies';

/** One webhook event per job: the id is derived from the job, so a second enqueue is a no-op. */
export function webhookEventId(jobId: string): string {
  return `evt_${jobId}`;
}

/** Webhook retries: exponential from 2 s, capped at 1 h; 40 attempts keep trying for > 24 h. */
export const WEBHOOK_BACKOFF_TYPE = 'webhook';
export const WEBHOOK_MAX_DELAY_MS = 3_600_000;
export const WEBHOOK_JOB_OPTIONS: JobsOptions = {
  attempts: 40,
  backoff: { type: WEBHOOK_BACKOFF_TYPE },
  removeOnComplete: { age: 7 * 86_400 },
  removeOnFail: false, // dead letters stay in the queue's failed set
};

export function webhookBackoffMs(attemptsMade: number, baseMs = 2_000): number {
  return Math.min(WEBHOOK_MAX_DELAY_MS, baseMs * 2 ** Math.max(0, attemptsMade - 1));
}

/**
 * How long after a job completed a lost webhook is still sent (by a re-seal, or the gateway's boot
 * sweep). Within it, a webhook that was enqueued is still known to BullMQ (delivered ones are kept a
 * week, dead letters for ever), so enqueueing again is a no-op; past it we assume it was delivered.
 */
export const WEBHOOK_RESEND_WINDOW_MS = 86_400_000;

/** True for a completed job that may still be missing its webhook (see WEBHOOK_RESEND_WINDOW_MS). */
export function mayResendWebhook(finishedAt: string | null | undefined, now = Date.now()): boolean {
  return !!finishedAt && now - Date.parse(finishedAt) < WEBHOOK_RESEND_WINDOW_MS;
}

/** Enqueues the job's webhook, if it has one. Safe to call from several places: it fires once. */
export async function enqueueWebhook(queues: Queues, jobs: JobStore, jobId: string): Promise<void> {
  if (!(await jobs.webhookOf(jobId))) return;
  const eventId = webhookEventId(jobId);
  const data: NotifyJob = { jobId, eventId };
  await queues.get(QUEUES.notify).add('deliver', data, { ...WEBHOOK_JOB_OPTIONS, jobId: eventId });
}

/**
 * Seals a batch job (idempotent) and enqueues its webhook when that completed it. A gateway that
 * died between sealing and enqueueing left a completed job without its webhook: sealing again
 * enqueues it (so does the next gateway's boot, WebhookSweep); the notify job's id is the event
 * id, so this is a no-op when it was enqueued. (finishedAt is set once the job completed, whether
 * its photos succeeded or all failed.)
 */
export async function sealJob(queues: Queues, jobs: JobStore, jobId: string): Promise<JobView> {
  const { view, completedNow } = await jobs.seal(jobId);
  if (completedNow || mayResendWebhook(view.finishedAt)) await enqueueWebhook(queues, jobs, jobId);
  return view;
}

/**
 * Records a photo's outcome on its batch job and, when that settles the last photo of a sealed
 * job, enqueues the webhook. Every stage that can end a photo (detector on bad input, matcher on
 * success, any stage on its final failed attempt) goes through here.
 */
export async function settlePhoto(queues: Queues, jobs: JobStore, jobId: string, result: PhotoResult): Promise<void> {
  const { completedNow } = await jobs.settlePhoto(jobId, result);
  // A stage killed between the settle that completed the job and the enqueue below is retried (its
  // job stalls and runs again), but then its settle no longer completes the job: enqueue anyway.
  // Harmless when the first enqueue did happen — the event id is the notify job's id.
  if (completedNow || (await jobs.isCompleted(jobId))) await enqueueWebhook(queues, jobs, jobId);
}

/** True on a job's final attempt: a stage then settles the photo as failed instead of throwing. */
export function isLastAttempt(job: Job): boolean {
  return job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

/**
 * Settles a stage job BullMQ gave up on (see runStage's `onGiveUp`): a batch photo is recorded as
 * failed with STAGE_GAVE_UP, a synchronous call is answered with a 500 of that code. Idempotent
 * like every settle, so a photo our processor had already settled is not counted twice.
 */
export async function settleGivenUp(
  queues: Queues,
  jobs: JobStore,
  redis: Redis,
  prefix: string,
  data: { jobId?: string; key?: string; request?: { id: string } },
  reason: string,
): Promise<void> {
  const error = { code: 'STAGE_GAVE_UP', message: `the pipeline gave up on this photo: ${reason}` };
  if (data.request) {
    await sendReply(redis, prefix, data.request.id, { ok: false, error: { ...error, status: 500 } });
  } else if (data.jobId && data.key !== undefined) {
    await settlePhoto(queues, jobs, data.jobId, { key: data.key, status: 'failed', faces: [], error });
  }
}
