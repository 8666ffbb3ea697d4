export interface Logger {
  info(msg: string, fields?: object): void;
  warn(msg: string, fields?: object): void;
  error(msg: string, fields?: object): void;
}

/** Where log lines go: stdout by default, a buffer in tests. */
export interface LogSink {
  write(line: string): unknown;
}

type Level = 'info' | 'warn' | 'error';

/**
 * One JSON object per line — `{time, level, stage, msg, …fields}` — so that log shippers need no
 * parsing rules. Errors among the fields keep their message, code and stack (JSON.stringify alone
 * would print `{}`).
 */
export class JsonLogger implements Logger {
  constructor(
    private readonly stage: string,
    private readonly sink: LogSink = process.stdout,
  ) {}

  info(msg: string, fields?: object): void {
    this.log('info', msg, fields);
  }

  warn(msg: string, fields?: object): void {
    this.log('warn', msg, fields);
  }

  error(msg: string, fields?: object): void {
    this.log('error', msg, fields);
  }

  private log(level: Level, msg: string, fields?: object): void {
    const line = { time: new Date().toISOString(), level, stage: this.stage, msg, ...fields };
    this.sink.write(`${JSON.stringify(line, errorReplacer)}\n`);
  }
}

export function createLogger(stage: string, sink?: LogSink): Logger {
  return new JsonLogger(stage, sink);
}

function errorReplacer(_key: string, value: unknown): unknown {
  // Duck-typed: errors from Node internals are not `instanceof Error` under Jest's VM.
  if (!(value instanceof Error) && Object.prototype.toString.call(value) !== '[object Error]') return value;
  const e = value as Error & { code?: unknown };
  return { name: e.name, message: e.message, ...(e.code !== undefined ? { code: e.code } : {}), stack: e.stack };
}
