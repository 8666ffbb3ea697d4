import { ApiError } from './api-error';
import type { GatewayLogger } from './gateway-logger';

/**
 * 507 STORAGE_FULL when `err` is the blob store's disk being full (ENOSPC, or a quota: EDQUOT),
 * logged, since the operator must hear of it; undefined for any other error. The client may retry
 * later: nothing of the photo was kept.
 */
export function storageFull(err: unknown, logger?: GatewayLogger): ApiError | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code !== 'ENOSPC' && code !== 'EDQUOT') return undefined;
  logger?.error('no room left to store a photo', { error: (err as Error).message });
  return new ApiError(507, 'STORAGE_FULL', `The server has no room left to store the photo (${code}); try again later`);
}
