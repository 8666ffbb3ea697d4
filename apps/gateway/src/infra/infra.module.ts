import { BlobStore, JobStore, Queues, createRedis } from '@facepipe/pipeline';
import { type DynamicModule, Global, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import path from 'node:path';
import { GatewayLogger } from '../common/gateway-logger';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/gateway-config';

/** Closes the shared Redis connection and the queues last, after HTTP and the webhook worker stopped. */
@Injectable()
export class InfraShutdown implements OnApplicationShutdown {
  constructor(
    private readonly redis: Redis,
    private readonly queues: Queues,
    private readonly logger: GatewayLogger,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.queues.close().catch((err: Error) => this.logger.warn('closing the queues failed', { error: err.message }));
    // QUIT lets pending replies arrive; a connection that is not up (yet) is just dropped.
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => undefined);
    this.redis.disconnect();
  }
}

/**
 * The process-wide adapters every feature uses: configuration, logger, one Redis connection, the
 * BullMQ queues, the batch job store and the blob store. Global, so features just inject them.
 */
@Global()
@Module({})
export class InfraModule {
  static forRoot(config: GatewayConfig, logger: GatewayLogger): DynamicModule {
    return {
      module: InfraModule,
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        { provide: GatewayLogger, useValue: logger },
        { provide: Redis, useFactory: () => createRedis(config.redisUrl, 'gateway') },
        { provide: Queues, useFactory: (redis: Redis) => new Queues(redis, config.prefix), inject: [Redis] },
        { provide: JobStore, useFactory: (redis: Redis) => new JobStore(redis, config.prefix), inject: [Redis] },
        { provide: BlobStore, useFactory: () => new BlobStore(path.join(config.dataDir, 'blobs')) },
        InfraShutdown,
      ],
      exports: [GATEWAY_CONFIG, GatewayLogger, Redis, Queues, JobStore, BlobStore],
    };
  }
}
