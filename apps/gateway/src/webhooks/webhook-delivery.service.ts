import { notifyJobSchema, type JobView } from '@facepipe/contracts';
import { JobStore, PipelineError, isLastAttempt } from '@facepipe/pipeline';
import { Injectable } from '@nestjs/common';
import { type Job, UnrecoverableError } from 'bullmq';
import { GatewayLogger } from '../common/gateway-logger';
import { InjectConfig, type GatewayConfig, gatewayOptions } from '../config/gateway-config';
import { MetricsService } from '../metrics/metrics.service';
import { WebhookTargetRefused, sendWebhook } from './webhook-sender';

/** The body of a `job.completed` webhook. */
export interface JobCompletedEvent {
  event: 'job.completed';
  job: JobView;
}

export type DeliveryResult = { delivered: true; status: number } | { skipped: string };

/**
 * Processes one notify job: one delivery attempt of a job's webhook. Every attempt is recorded on
 * the job (visible in GET /v1/jobs/{id}); a non-2xx answer or a network error throws, so BullMQ
 * retries it with the webhook backoff; a refused target fails at once (retrying cannot help).
 */
@Injectable()
export class WebhookDeliveryService {
  private readonly timeoutMs: number;

  constructor(
    private readonly jobs: JobStore,
    private readonly metrics: MetricsService,
    private readonly logger: GatewayLogger,
    @InjectConfig() private readonly config: GatewayConfig,
  ) {
    this.timeoutMs = gatewayOptions(config).webhookTimeoutMs;
  }

  async process(job: Job): Promise<DeliveryResult> {
    const parsed = notifyJobSchema.safeParse(job.data);
    if (!parsed.success) {
      this.metrics.webhookDelivery('skipped');
      throw new UnrecoverableError(`malformed notify job: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    }
    const { jobId, eventId } = parsed.data;
    const [webhook, view] = await Promise.all([this.jobs.webhookOf(jobId), this.jobs.get(jobId)]);
    if (!webhook || !view) {
      this.metrics.webhookDelivery('skipped');
      this.logger.warn('webhook skipped: the job or its webhook is gone', { jobId, eventId });
      return { skipped: view ? 'NO_WEBHOOK' : 'JOB_NOT_FOUND' };
    }
    const event: JobCompletedEvent = { event: 'job.completed', job: view };
    const attempt = job.attemptsMade + 1;
    const at = new Date().toISOString();
    let status: number;
    try {
      status = await sendWebhook(
        { url: webhook.url, eventId, body: JSON.stringify(event), secret: webhook.secret },
        { timeoutMs: this.timeoutMs, allowPrivate: this.config.allowPrivateUrls },
      );
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      await this.jobs.recordDelivery(jobId, { at, status: null, error: message });
      // A refused target stays refused: retrying for a day cannot help.
      const refused = err instanceof WebhookTargetRefused || (err instanceof PipelineError && err.code === 'URL_NOT_ALLOWED');
      this.attemptFailed(job, { jobId, eventId, attempt, error: message }, refused);
      throw refused ? new UnrecoverableError(message) : err;
    }
    if (status >= 200 && status < 300) {
      await this.jobs.recordDelivery(jobId, { at, status });
      this.metrics.webhookDelivery('delivered');
      this.logger.info('webhook delivered', { jobId, eventId, attempt, status });
      return { delivered: true, status };
    }
    const error = `HTTP ${status}`;
    await this.jobs.recordDelivery(jobId, { at, status, error });
    this.attemptFailed(job, { jobId, eventId, attempt, status, error }, false);
    throw new Error(`webhook answered ${error}`);
  }

  /** A failed attempt is `retried`, or `dead` when it was the last (the job stays failed in the queue: the dead letter). */
  private attemptFailed(job: Job, fields: object, final: boolean): void {
    if (final || isLastAttempt(job)) {
      this.metrics.webhookDelivery('dead');
      this.logger.error('webhook dead-lettered: no more attempts', { ...fields, attempts: job.attemptsMade + 1 });
    } else {
      this.metrics.webhookDelivery('retried');
      this.logger.warn('webhook delivery failed; it will be retried', fields);
    }
  }
}
