import { createLogger, type LogSink, type Logger } from '@facepipe/pipeline';
import type { LoggerService } from '@nestjs/common';

/**
 * The gateway's logger: the pipeline's JSON lines (`{time, level, stage, msg, ...fields}`), also
 * serving as NestJS's logger so that the framework's own messages come out the same way.
 * NestJS's debug/verbose messages are dropped unless FACEPIPE_LOG_LEVEL=debug.
 */
export class GatewayLogger implements LoggerService, Logger {
  private readonly lines: Logger;

  constructor(
    stage = 'gateway',
    sink?: LogSink,
    private readonly debugEnabled = process.env.FACEPIPE_LOG_LEVEL === 'debug',
  ) {
    this.lines = createLogger(stage, sink);
  }

  info(msg: string, fields?: object): void {
    this.lines.info(msg, fields);
  }

  warn(msg: string, fields?: object): void {
    this.lines.warn(msg, fields);
  }

  error(msg: string, fields?: object): void;
  error(message: unknown, ...optional: unknown[]): void;
  error(message: unknown, ...optional: unknown[]): void {
    if (typeof message === 'string' && (optional.length === 0 || isFields(optional[0]))) {
      this.lines.error(message, optional[0] as object | undefined);
    } else {
      this.lines.error(text(message), nestFields(optional));
    }
  }

  // LoggerService (NestJS): optional params end with the context name.
  log(message: unknown, ...optional: unknown[]): void {
    this.lines.info(text(message), nestFields(optional));
  }

  fatal(message: unknown, ...optional: unknown[]): void {
    this.lines.error(text(message), nestFields(optional));
  }

  debug(message: unknown, ...optional: unknown[]): void {
    if (this.debugEnabled) this.lines.info(text(message), { ...nestFields(optional), debug: true });
  }

  verbose(message: unknown, ...optional: unknown[]): void {
    this.debug(message, ...optional);
  }
}

function isFields(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function text(message: unknown): string {
  if (message instanceof Error) return message.message;
  return typeof message === 'string' ? message : JSON.stringify(message);
}

/** NestJS passes `(message, context)`, or `(message, stack, context)` for errors. */
function nestFields(optional: unknown[]): object | undefined {
  const strings = optional.filter((o): o is string => typeof o === 'string');
  if (strings.length === 0) return undefined;
  const context = strings[strings.length - 1];
  return strings.length > 1 ? { context, stack: strings[0] } : { context };
}
