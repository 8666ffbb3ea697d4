/**
 * Stable error codes of the pipeline with the HTTP status the API answers them with. A code, once
 * published, never changes meaning; the status also tells the stages whether retrying can help
 * (4xx: the input is wrong and stays wrong; 5xx: the world may be different next time).
 */
export const PIPELINE_ERROR_STATUS = {
  BLOB_NOT_FOUND: 404,
  // 400 like the gateway's own checks of the same input: a symlink found by the detector is no different.
  PATH_NOT_ALLOWED: 400,
  PATH_NOT_FOUND: 404,
  URL_NOT_ALLOWED: 400,
  URL_FETCH_FAILED: 502,
  PHOTO_TOO_LARGE: 413,
  JOB_NOT_FOUND: 404,
  JOB_SEALED: 409,
  PHOTO_NOT_IN_JOB: 409,
  INVALID_CURSOR: 400,
} as const;

export type PipelineErrorCode = keyof typeof PIPELINE_ERROR_STATUS;

export class PipelineError extends Error {
  override readonly name = 'PipelineError';
  readonly status: number;

  constructor(
    readonly code: PipelineErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = PIPELINE_ERROR_STATUS[code];
  }

  /** The `{code, message}` pair a per-photo result or an API error body carries. */
  toInfo(): { code: string; message: string } {
    return { code: this.code, message: this.message };
  }
}

/**
 * The message of anything thrown. Duck-typed rather than `instanceof Error`: errors raised by Node
 * internals come from another realm under Jest's VM and fail that test.
 */
export function errorMessage(err: unknown): string {
  const message = (err as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' ? message : String(err);
}
