/** Photos per JSON request in path mode (the gateway takes up to 10,000). */
export const PATH_CHUNK_ITEMS = 1000;
/** Files per multipart request in upload mode. */
export const UPLOAD_CHUNK_FILES = 32;
/** Bytes per multipart request in upload mode (a single larger file goes alone). */
export const UPLOAD_CHUNK_BYTES = 64 * 1024 * 1024;

/**
 * Splits `items` in order into chunks of at most `maxItems` items and, when `sizeOf` is given, at
 * most `maxBytes` bytes; an item larger than `maxBytes` on its own makes a chunk of one.
 */
export function chunk<T>(items: readonly T[], maxItems: number, maxBytes = Infinity, sizeOf: (item: T) => number = () => 0): T[][] {
  if (!(maxItems >= 1)) throw new RangeError('maxItems must be at least 1');
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && (current.length >= maxItems || bytes + size > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export function pathChunks<T>(items: readonly T[], maxItems = PATH_CHUNK_ITEMS): T[][] {
  return chunk(items, maxItems);
}

export function uploadChunks<T extends { size: number }>(items: readonly T[], maxFiles = UPLOAD_CHUNK_FILES, maxBytes = UPLOAD_CHUNK_BYTES): T[][] {
  return chunk(items, maxFiles, maxBytes, (item) => item.size);
}
