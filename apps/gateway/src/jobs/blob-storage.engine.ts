import type { BlobStore } from '@facepipe/pipeline';
import type { Request } from 'express';
import type { StorageEngine } from 'multer';

/** A multipart file once stored: multer's file plus the blob it became. */
export interface UploadedPhoto extends Express.Multer.File {
  blobId: string;
  /** The content's hash (equal to blobId unless the blob is private). */
  sha256: string;
}

/**
 * multer storage engine that streams each uploaded file into the BlobStore (temp file, fsync,
 * rename; sha256 id). A file larger than `maxBytes` fails the request with PHOTO_TOO_LARGE. The
 * callback runs only after put() resolved, so a blob that is referenced is always complete.
 */
export class BlobStorageEngine implements StorageEngine {
  constructor(
    private readonly blobs: BlobStore,
    private readonly maxBytes: number,
    /** Store each file as a private blob (random id, never shared): see BlobStore.put. */
    private readonly privateBlobs = false,
  ) {}

  _handleFile(_req: Request, file: Express.Multer.File, callback: (error?: unknown, info?: Partial<UploadedPhoto>) => void): void {
    this.blobs.put(file.stream, this.maxBytes, { private: this.privateBlobs }).then(
      ({ blobId, size, sha256 }) => callback(null, { blobId, size, sha256 }),
      (err: unknown) => {
        // Let the parser move on (multer then drains the rest of the request and fails it).
        file.stream.resume();
        callback(err);
      },
    );
  }

  /**
   * Called by multer for the files already stored when a later part of the request fails. Shared
   * (content-addressed) blobs may belong to photos of other jobs, so nothing is deleted for them
   * (an unreferenced blob is garbage to collect, never a dangling reference); a private blob is
   * this request's alone and goes at once.
   */
  _removeFile(_req: Request, file: Express.Multer.File, callback: (error: Error | null) => void): void {
    const blobId = (file as Partial<UploadedPhoto>).blobId;
    if (!this.privateBlobs || !blobId) return callback(null);
    this.blobs.delete(blobId).then(
      () => callback(null),
      () => callback(null), // best effort: the request fails with its own error either way
    );
  }
}
