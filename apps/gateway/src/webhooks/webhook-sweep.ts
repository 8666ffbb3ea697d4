import { JobStore, Queues, enqueueWebhook, mayResendWebhook } from '@facepipe/pipeline';
import { type BeforeApplicationShutdown, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { GatewayLogger } from '../common/gateway-logger';

/**
 * A gateway killed between sealing a job (which completed it) and enqueueing its webhook leaves a
 * completed job whose webhook was never sent. The next gateway to boot walks the job records and
 * enqueues the webhook of every job that completed within WEBHOOK_RESEND_WINDOW_MS: the notify
 * job's id is the event id, so one that was enqueued (delivered, retrying or dead) is not sent
 * again. It runs in the background: the gateway serves meanwhile.
 */
@Injectable()
export class WebhookSweep implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private running?: Promise<void>;
  private stopping = false;

  constructor(
    private readonly jobs: JobStore,
    private readonly queues: Queues,
    private readonly logger: GatewayLogger,
  ) {}

  onApplicationBootstrap(): void {
    this.running = this.sweep().then(
      (checked) => checked > 0 && this.logger.info('checked the webhooks of recently completed jobs', { jobs: checked }),
      (err: unknown) => this.logger.warn('could not sweep for lost webhooks', { error: err instanceof Error ? err.message : String(err) }),
    ).then(() => undefined);
  }

  /** Enqueues any missing webhook of a recently completed job; returns how many jobs it checked. */
  async sweep(): Promise<number> {
    let checked = 0;
    for await (const { id, fields: [finishedAt, webhookUrl] } of this.jobs.scan(['finishedAt', 'webhookUrl'])) {
      if (this.stopping) break; // the next boot sweeps again
      if (!webhookUrl || !mayResendWebhook(finishedAt)) continue;
      await enqueueWebhook(this.queues, this.jobs, id);
      checked++;
    }
    return checked;
  }

  async beforeApplicationShutdown(): Promise<void> {
    // Redis closes after this hook: stop at the next job rather than fail mid-command.
    this.stopping = true;
    await this.running;
  }
}
