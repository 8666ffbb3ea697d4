import { QUEUES } from '@facepipe/contracts';
import { WEBHOOK_BACKOFF_TYPE, webhookBackoffMs } from '@facepipe/pipeline';
import {
  type BeforeApplicationShutdown,
  Injectable,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { GatewayLogger } from '../common/gateway-logger';
import { InjectConfig, type GatewayConfig, gatewayOptions } from '../config/gateway-config';
import { WebhookDeliveryService } from './webhook-delivery.service';

/**
 * The notify-queue consumer inside the gateway process: a BullMQ Worker with the deployment's
 * prefix whose custom backoff is the webhook policy. Started when the app boots; on shutdown it
 * stops taking jobs and waits for deliveries in flight before Redis is closed.
 */
@Injectable()
export class WebhookWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private worker?: Worker;

  constructor(
    private readonly redis: Redis,
    private readonly delivery: WebhookDeliveryService,
    private readonly logger: GatewayLogger,
    @InjectConfig() private readonly config: GatewayConfig,
  ) {}

  onApplicationBootstrap(): void {
    const { webhookBackoffMs: baseMs, webhookConcurrency } = gatewayOptions(this.config);
    const worker = new Worker(QUEUES.notify, (job: Job) => this.delivery.process(job), {
      connection: this.redis,
      prefix: this.config.prefix,
      concurrency: webhookConcurrency,
      settings: {
        backoffStrategy: (attemptsMade: number, type?: string) => {
          // Unknown types (none are expected) fall back to the webhook policy rather than failing the job.
          if (type !== WEBHOOK_BACKOFF_TYPE) this.logger.warn('unknown backoff type on the notify queue', { type });
          return webhookBackoffMs(attemptsMade, baseMs);
        },
      },
    });
    worker.on('error', (err) => this.logger.error('notify worker error', { error: err.message }));
    this.worker = worker;
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.worker?.close();
  }
}
