import { Module } from '@nestjs/common';
import { WebhookDeliveryService } from './webhook-delivery.service';
import { WebhookSweep } from './webhook-sweep';
import { WebhookWorker } from './webhook.worker';

@Module({
  providers: [WebhookDeliveryService, WebhookWorker, WebhookSweep],
})
export class WebhooksModule {}
