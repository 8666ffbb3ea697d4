import 'reflect-metadata';
import { checkRedis } from '@facepipe/pipeline';
import type { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { AppModule } from './app.module';
import { AllExceptionsFilter, expressErrorHandler } from './common/all-exceptions.filter';
import { OPEN_PATHS, apiKeyMiddleware } from './common/api-key.middleware';
import { jsonBodies } from './common/json-body';
import { redisAvailable } from './common/redis-available.middleware';
import { answerParserErrors } from './common/parser-errors';
import { GatewayLogger } from './common/gateway-logger';
import { setupOpenApi } from './common/openapi';
import { type GatewayConfig, assertSafeBinding, gatewayOptions } from './config/gateway-config';
import { KeysService } from './keys/keys.service';
import { MetricsService, routeOf } from './metrics/metrics.service';

export interface CreateGatewayOptions {
  /** Where log lines go; defaults to JSON lines on stdout. */
  logger?: GatewayLogger;
  /** Skip the Redis reachability check (it is done by default, before anything is built). */
  skipRedisCheck?: boolean;
  /** More modules, for tests that mount routes of their own. */
  extraModules?: Type[];
}

/**
 * Builds the gateway application (not listening yet): refuses an unsafe binding (a non-loopback
 * HOST without FACEPIPE_API_KEY) and an unreachable Redis with an Error whose message is one line
 * for the operator, then wires the middleware, routes, OpenAPI docs and the webhook worker.
 * The caller listens: `await app.listen(config.port, config.host)`.
 */
export async function createGatewayApp(config: GatewayConfig, options: CreateGatewayOptions = {}): Promise<INestApplication> {
  assertSafeBinding(config);
  if (!options.skipRedisCheck) await checkRedis(config.redisUrl);

  const logger = options.logger ?? new GatewayLogger('gateway');
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, logger, options.extraModules), {
    logger,
    bodyParser: false, // registered below, after authentication, with our limit
    abortOnError: false, // a failure while building is thrown to the caller, not a process.exit
  });
  const express = app.getHttpAdapter().getInstance();
  express.disable('x-powered-by');
  express.set('query parser', 'simple');
  answerParserErrors(app.getHttpServer());

  // Express-level middleware runs before every route, Swagger's included. Order matters:
  // metrics/access log → Redis reachable → API key (the request's principal) → JSON body parser → JSON errors of the body parser.
  const metrics = app.get(MetricsService);
  app.use(metrics.httpMiddleware());
  app.use(accessLog(logger));
  app.use(redisAvailable(app.get(Redis)));
  app.use(apiKeyMiddleware(config.apiKey, app.get(KeysService)));
  app.use(jsonBodies(gatewayOptions(config).jsonBodyLimit));
  app.use(expressErrorHandler(logger));

  app.useGlobalFilters(new AllExceptionsFilter(logger));
  setupOpenApi(app);
  return app;
}

/** One JSON line per answered request (successful probes and scrapes excepted: they come every few seconds). */
function accessLog(logger: GatewayLogger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      if (OPEN_PATHS.has(req.path) && res.statusCode < 400) return;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info('request', { method: req.method, path: req.path, route: routeOf(req), status: res.statusCode, ms: Math.round(ms * 10) / 10 });
    });
    next();
  };
}
