import 'reflect-metadata';
import { listenError, redisAnswers } from '@facepipe/pipeline';
import type { INestApplication } from '@nestjs/common';
import { Redis } from 'ioredis';
import { GatewayLogger } from './common/gateway-logger';
import { type GatewayConfig, loadGatewayConfig } from './config/gateway-config';
import { createGatewayApp } from './gateway-app';

export { createGatewayApp, type CreateGatewayOptions } from './gateway-app';
export { loadGatewayConfig, type GatewayConfig } from './config/gateway-config';

const SHUTDOWN_GRACE_MS = 25_000;
/**
 * Without Redis (down, or not answering a PING within a second) nothing in flight can finish, and
 * closing waits on commands queued for it: give the close this long, not the full grace.
 */
const SHUTDOWN_WITHOUT_REDIS_MS = 3_000;

/**
 * gateway: the HTTP API and the webhook delivery worker. Refuses to start, with one line and
 * exit 1, on bad configuration, an open API on a non-loopback address, or an unreachable Redis.
 * SIGTERM/SIGINT: stop accepting, finish requests and deliveries in flight, close, exit 0.
 */
export async function main(): Promise<void> {
  const logger = new GatewayLogger('gateway');
  let app: INestApplication;
  let config: GatewayConfig;
  try {
    config = loadGatewayConfig();
    app = await createGatewayApp(config, { logger });
    await app.listen(config.port, config.host).catch((err: unknown) => {
      throw listenError(err, config.host, config.port, 'PORT');
    });
  } catch (err) {
    process.stderr.write(`gateway: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
  logger.info('gateway listening', { url: await app.getUrl(), prefix: config.prefix, auth: config.apiKey ? 'api-key' : 'none' });

  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    const redisUp = await redisAnswers(app.get(Redis), 1_000);
    const graceMs = redisUp ? SHUTDOWN_GRACE_MS : SHUTDOWN_WITHOUT_REDIS_MS;
    logger.info(redisUp ? 'shutting down' : 'shutting down without Redis: requests in flight cannot finish', { signal });
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting', { graceMs });
      process.exit(1);
    }, graceMs);
    force.unref();
    app.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error('shutdown failed', { error: err instanceof Error ? err.message : String(err) });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', (signal) => void stop(signal));
  process.once('SIGINT', (signal) => void stop(signal));
}

if (require.main === module) void main();
