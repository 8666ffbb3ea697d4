import { PipelineError, RequestError } from '@facepipe/pipeline';
import { HttpException } from '@nestjs/common';
import { ZodError } from 'zod';
import { ApiError, type ErrorBody } from './api-error';

export interface MappedError {
  status: number;
  body: ErrorBody;
  /** True when the error was not one we expected: it is logged with its stack. */
  unexpected: boolean;
}

const STATUS_CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  408: 'REQUEST_TIMEOUT',
  409: 'CONFLICT',
  411: 'LENGTH_REQUIRED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE_ENTITY',
  429: 'TOO_MANY_REQUESTS',
  503: 'SERVICE_UNAVAILABLE',
};

/** body-parser (and raw-body) errors carry a `type`; these are the client's fault. */
const BODY_PARSER_ERRORS: Record<string, { status: number; code: string; message?: string }> = {
  'entity.parse.failed': { status: 400, code: 'INVALID_JSON', message: 'The request body is not valid JSON' },
  'entity.too.large': { status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'The request body is too large' },
  'entity.verify.failed': { status: 400, code: 'BAD_REQUEST' },
  'charset.unsupported': { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  'json.too.complex': { status: 400, code: 'INVALID_JSON' },
  'encoding.unsupported': { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  'request.aborted': { status: 400, code: 'REQUEST_ABORTED', message: 'The request was aborted' },
  'request.size.invalid': { status: 400, code: 'BAD_REQUEST', message: 'The request body size does not match its Content-Length' },
  'stream.encoding.set': { status: 500, code: 'INTERNAL_ERROR' },
  'stream.not.readable': { status: 500, code: 'INTERNAL_ERROR' },
  'parameters.too.many': { status: 413, code: 'PAYLOAD_TOO_LARGE' },
};

/** multer error codes, should one reach us untransformed. */
const MULTER_ERRORS: Record<string, { status: number; code: string }> = {
  LIMIT_FILE_SIZE: { status: 413, code: 'PHOTO_TOO_LARGE' },
  LIMIT_FILE_COUNT: { status: 400, code: 'TOO_MANY_ITEMS' },
  LIMIT_PART_COUNT: { status: 400, code: 'TOO_MANY_ITEMS' },
};

const INTERNAL: ErrorBody = { error: { code: 'INTERNAL_ERROR', message: 'Internal server error' } };

/** Maps anything thrown while serving a request to the status and JSON body the client gets. */
export function mapError(err: unknown): MappedError {
  if (err instanceof ApiError) {
    return known(err.status, err.code, err.message, err.field);
  }
  if (err instanceof PipelineError) {
    // Every code is one the client is meant to read; the only 5xx, 502 URL_FETCH_FAILED (a URL
    // source's server failed), is no fault of ours either.
    return known(err.status, err.code, err.message);
  }
  if (err instanceof RequestError) {
    // A worker's answer to a synchronous call; a timeout (504) is expected under load, not a bug.
    if (err.status >= 500 && err.status !== 504) return { status: err.status, body: { error: { code: err.code, message: err.message } }, unexpected: true };
    return known(err.status, err.code, err.message);
  }
  if (err instanceof ZodError) {
    return fromZod(err);
  }
  if (err instanceof HttpException) {
    const status = err.getStatus();
    const message = httpExceptionMessage(err);
    if (status >= 500) return { status, body: INTERNAL, unexpected: true };
    return known(status, STATUS_CODES[status] ?? `HTTP_${status}`, message);
  }
  if (isObject(err)) {
    if (typeof err.type === 'string' && err.type in BODY_PARSER_ERRORS) {
      const m = BODY_PARSER_ERRORS[err.type];
      if (m.status >= 500) return { status: m.status, body: INTERNAL, unexpected: true };
      return known(m.status, m.code, m.message ?? String(err.message ?? m.code));
    }
    if (err.name === 'MulterError' && typeof err.code === 'string') {
      const m = MULTER_ERRORS[err.code] ?? { status: 400, code: 'INVALID_MULTIPART' };
      return known(m.status, m.code, String(err.message));
    }
    // Other http-errors style client errors (status 4xx + expose) from Express middleware.
    const status = typeof err.status === 'number' ? err.status : typeof err.statusCode === 'number' ? err.statusCode : undefined;
    if (status !== undefined && status >= 400 && status < 500 && err.expose !== false) {
      return known(status, STATUS_CODES[status] ?? `HTTP_${status}`, String(err.message ?? STATUS_CODES[status] ?? 'Bad request'));
    }
  }
  return { status: 500, body: INTERNAL, unexpected: true };
}

/** 400 VALIDATION_FAILED naming the first offending field (`items.3.path`). */
export function fromZod(err: ZodError): MappedError {
  const issue = err.issues[0];
  // An unknown member is named by its own path (`colour`, `items.0.colour`), not its parent's.
  const path = issue?.code === 'unrecognized_keys' && issue.keys.length > 0 ? [...issue.path, issue.keys[0]] : issue?.path;
  const joined = path && path.length > 0 ? path.map(String).join('.') : undefined;
  const field = joined !== undefined && joined.length > 256 ? `${joined.slice(0, 256)}…` : joined;
  // JSON numbers past ±1.8e308 parse as ±Infinity, which zod refuses as "expected number, received number".
  const said =
    issue?.code === 'invalid_type' && issue.expected === 'number' && / received number$/.test(issue.message)
      ? 'must be a finite number'
      : issue?.code === 'unrecognized_keys'
        ? unknownMembers(issue.keys) // zod lists every one: a million-member body got a 13 MB answer
        : issue?.message;
  const message = said ? (field ? `${field}: ${said}` : said) : 'Invalid request';
  return known(400, 'VALIDATION_FAILED', message, field);
}

function unknownMembers(keys: string[]): string {
  const named = keys.slice(0, 5).map((k) => JSON.stringify(k.length > 64 ? `${k.slice(0, 64)}…` : k)).join(', ');
  return `unknown member${keys.length > 1 ? 's' : ''} ${named}${keys.length > 5 ? ` and ${keys.length - 5} more` : ''}`;
}

function known(status: number, code: string, message: string, field?: string): MappedError {
  return { status, body: { error: field === undefined ? { code, message } : { code, message, field } }, unexpected: false };
}

function httpExceptionMessage(err: HttpException): string {
  const response = err.getResponse();
  if (typeof response === 'string') return response;
  if (isObject(response)) {
    const m = response.message;
    if (Array.isArray(m)) return m.map(String).join('; ');
    if (typeof m === 'string') return m;
  }
  return err.message;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}
