import 'reflect-metadata';
import { listenError } from '@facepipe/pipeline';
import type { INestApplication } from '@nestjs/common';
import { GatewayLogger } from './common/gateway-logger';
import { type GatewayConfig, loadGatewayConfig } from './config/gateway-config';
import { createGatewayApp } from './gateway-app';

export { createGatewayApp, type CreateGatewayOptions } from './gateway-app';
export { loadGatewayConfig, type GatewayConfig } from './config/gateway-config';

const SHUTDOWN_GRACE_MS = 25_000;

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
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting', { graceMs: SHUTDOWN_GRACE_MS });
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
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
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (require.main === module) void main();
