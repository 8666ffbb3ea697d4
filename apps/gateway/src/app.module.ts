import { type DynamicModule, Module } from '@nestjs/common';
import { CollectionsModule } from './collections/collections.module';
import type { GatewayLogger } from './common/gateway-logger';
import type { GatewayConfig } from './config/gateway-config';
import { HealthModule } from './health/health.module';
import { InfraModule } from './infra/infra.module';
import { JobsModule } from './jobs/jobs.module';
import { MetricsModule } from './metrics/metrics.module';
import { WebhooksModule } from './webhooks/webhooks.module';

/** The gateway: HTTP API, probes and metrics, and the webhook (notify queue) worker. */
@Module({})
export class AppModule {
  static forRoot(config: GatewayConfig, logger: GatewayLogger): DynamicModule {
    return {
      module: AppModule,
      imports: [InfraModule.forRoot(config, logger), MetricsModule, HealthModule, CollectionsModule, JobsModule, WebhooksModule],
    };
  }
}
