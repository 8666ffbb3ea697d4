/**
 * Stable error codes of the face engine. The API and the CLI return them as-is, so a code, once
 * published, never changes meaning.
 */
export const FACE_ENGINE_ERROR_CODES = [
  'FILE_NOT_FOUND',
  'FILE_UNREADABLE',
  'IMAGE_EMPTY',
  'UNSUPPORTED_IMAGE_FORMAT',
  'IMAGE_DECODE_FAILED',
  'IMAGE_TOO_LARGE',
  'MODEL_LOAD_FAILED',
  'MODEL_MANIFEST_INVALID',
  'INFERENCE_FAILED',
] as const;

export type FaceEngineErrorCode = (typeof FACE_ENGINE_ERROR_CODES)[number];

export class FaceEngineError extends Error {
  override readonly name = 'FaceEngineError';

  constructor(
    readonly code: FaceEngineErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Turns anything thrown into a `{code, message}` pair suitable for a per-item error result. */
export function toErrorInfo(err: unknown): { code: string; message: string } {
  if (err instanceof FaceEngineError) return { code: err.code, message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'INTERNAL_ERROR', message };
}
