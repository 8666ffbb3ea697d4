import { Module } from '@nestjs/common';
import { WebhookDeliveryService } from './webhook-delivery.service';
import { WebhookWorker } from './webhook.worker';

@Module({
  providers: [WebhookDeliveryService, WebhookWorker],
})
export class WebhooksModule {}
