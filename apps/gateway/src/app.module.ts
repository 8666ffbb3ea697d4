import { type DynamicModule, Module, type Type } from '@nestjs/common';
import { AccessModule } from './access/access.module';
import { CollectionsModule } from './collections/collections.module';
import { EraseModule } from './erase/erase.module';
import { FacesModule } from './faces/faces.module';
import type { GatewayLogger } from './common/gateway-logger';
import type { GatewayConfig } from './config/gateway-config';
import { HealthModule } from './health/health.module';
import { IdentitiesModule } from './identities/identities.module';
import { IndexOpsModule } from './index-ops/index-ops.module';
import { InfraModule } from './infra/infra.module';
import { JobsModule } from './jobs/jobs.module';
import { KeysModule } from './keys/keys.module';
import { MetricsModule } from './metrics/metrics.module';
import { PeopleModule } from './people/people.module';
import { RecognitionModule } from './recognition/recognition.module';
import { WebhooksModule } from './webhooks/webhooks.module';

/** The gateway: HTTP API, probes and metrics, and the webhook (notify queue) worker. */
@Module({})
export class AppModule {
  static forRoot(config: GatewayConfig, logger: GatewayLogger, extraModules: Type[] = []): DynamicModule {
    return {
      module: AppModule,
      imports: [InfraModule.forRoot(config, logger), MetricsModule, HealthModule, CollectionsModule, JobsModule, WebhooksModule, AccessModule, KeysModule, IndexOpsModule, PeopleModule, EraseModule, FacesModule, RecognitionModule, IdentitiesModule, ...extraModules],
    };
  }
}
