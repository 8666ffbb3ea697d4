import { type ArgumentsHost, Catch, type ExceptionFilter } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import type { GatewayLogger } from './gateway-logger';
import { mapError } from './error-mapping';

/**
 * Every error a route, guard, pipe or interceptor throws becomes `{"error": {"code", "message"}}`.
 * An unexpected error is logged with its stack and answered 500 INTERNAL_ERROR without details.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  constructor(private readonly logger: GatewayLogger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    sendError(this.logger, exception, ctx.getRequest<Request>(), ctx.getResponse<Response>());
  }
}

/**
 * The same for errors raised by Express middleware before a route runs (body-parser: malformed
 * JSON, body too large, bad charset); it is mounted right after the body parsers.
 */
export function expressErrorHandler(logger: GatewayLogger) {
  return (err: unknown, req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) return next(err);
    sendError(logger, err, req, res);
  };
}

function sendError(logger: GatewayLogger, exception: unknown, req: Request, res: Response): void {
  const { status, body, unexpected } = mapError(exception);
  if (unexpected) {
    const err = exception instanceof Error ? exception : new Error(String(exception));
    logger.error('request failed', { method: req.method, path: req.path, status, error: err.message, stack: err.stack });
  }
  if (res.headersSent) {
    res.end();
    return;
  }
  res.status(status).json(body);
}
