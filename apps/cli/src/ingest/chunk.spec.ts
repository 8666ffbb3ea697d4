import { chunk, pathChunks, PATH_CHUNK_ITEMS, UPLOAD_CHUNK_BYTES, UPLOAD_CHUNK_FILES, uploadChunks } from './chunk';

const MB = 1024 * 1024;
const items = (sizes: number[]) => sizes.map((size, i) => ({ key: `k${i}`, size }));

describe('chunking', () => {
  it('path mode: chunks of 1,000 items in order', () => {
    const keys = Array.from({ length: 2500 }, (_, i) => i);
    const chunks = pathChunks(keys);
    expect(PATH_CHUNK_ITEMS).toBe(1000);
    expect(chunks.map((c) => c.length)).toEqual([1000, 1000, 500]);
    expect(chunks.flat()).toEqual(keys);
    expect(pathChunks([])).toEqual([]);
  });

  it('upload mode: at most 32 files per chunk', () => {
    expect(UPLOAD_CHUNK_FILES).toBe(32);
    expect(uploadChunks(items(Array(70).fill(1000))).map((c) => c.length)).toEqual([32, 32, 6]);
  });

  it('upload mode: at most 64 MB per chunk; a larger file goes alone', () => {
    expect(UPLOAD_CHUNK_BYTES).toBe(64 * MB);
    const chunks = uploadChunks(items([30 * MB, 30 * MB, 10 * MB, 100 * MB, 1 * MB, 64 * MB, 1]));
    expect(chunks.map((c) => c.map((i) => i.key))).toEqual([['k0', 'k1'], ['k2'], ['k3'], ['k4'], ['k5'], ['k6']]);
    expect(uploadChunks(items([32 * MB, 32 * MB, 1])).map((c) => c.length)).toEqual([2, 1]);
  });

  it('refuses a chunk size below one', () => {
    expect(() => chunk([1], 0)).toThrow(RangeError);
  });
});
