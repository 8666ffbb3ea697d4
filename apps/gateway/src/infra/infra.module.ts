import { BlobRefs, BlobStore, JobStore, Queues, ReplyWaiter, ThumbnailStore, createRedis, thumbnailDir } from '@facepipe/pipeline';
import { type DynamicModule, Global, Injectable, Module, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
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
    private readonly replies: ReplyWaiter,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.replies.close().catch((err: Error) => this.logger.warn('closing the reply waiter failed', { error: err.message }));
    await this.queues.close().catch((err: Error) => this.logger.warn('closing the queues failed', { error: err.message }));
    // QUIT lets pending replies arrive; a connection that is not up (yet) is just dropped.
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => undefined);
    this.redis.disconnect();
  }
}

/** Stale upload temp files (`.part`) older than this are removed at boot: an upload in flight writes to its file continuously. */
export const BLOB_TEMP_MAX_AGE_MS = 3_600_000;

/**
 * A gateway killed mid-upload leaves its temp file behind (never a blob: only a complete, renamed
 * file gets an id). The next boot removes the ones no live upload can still own.
 */
@Injectable()
export class BlobTempSweep implements OnApplicationBootstrap {
  constructor(
    private readonly blobs: BlobStore,
    private readonly logger: GatewayLogger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    try {
      const removed = await this.blobs.sweepTemp(BLOB_TEMP_MAX_AGE_MS);
      if (removed > 0) this.logger.info('removed stale upload temp files', { removed });
    } catch (err) {
      this.logger.warn('could not sweep upload temp files', { error: err instanceof Error ? err.message : String(err) });
    }
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
        { provide: JobStore, useFactory: (redis: Redis) => new JobStore(redis, config.prefix, config.jobRetentionSeconds), inject: [Redis] },
        { provide: BlobStore, useFactory: () => new BlobStore(path.join(config.dataDir, 'blobs')) },
        // One subscriber per process for every synchronous call's reply (recognition, index operations).
        { provide: ReplyWaiter, useFactory: (redis: Redis) => new ReplyWaiter(redis, config.prefix), inject: [Redis] },
        // Who uses each uploaded blob (erasure deletes a blob only when nothing else does), and the face thumbnails.
        { provide: BlobRefs, useFactory: (redis: Redis) => new BlobRefs(redis, config.prefix), inject: [Redis] },
        { provide: ThumbnailStore, useFactory: (redis: Redis) => new ThumbnailStore(thumbnailDir(config.dataDir), redis, config.prefix), inject: [Redis] },
        InfraShutdown,
        BlobTempSweep,
      ],
      exports: [GATEWAY_CONFIG, GatewayLogger, Redis, Queues, JobStore, BlobStore, ReplyWaiter, BlobRefs, ThumbnailStore],
    };
  }
}
