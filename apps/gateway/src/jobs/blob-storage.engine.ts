import type { BlobRefs, BlobStore } from '@facepipe/pipeline';
import type { Request } from 'express';
import type { StorageEngine } from 'multer';

/** A multipart file once stored: multer's file plus the blob it became. */
export interface UploadedPhoto extends Express.Multer.File {
  blobId: string;
  /** The content's hash (equal to blobId unless the blob is private). */
  sha256: string;
  /** This upload wrote the blob (the same bytes were not stored already). */
  created: boolean;
}

/**
 * Whose the stored files are. `private`: each file is a private blob (random id, never shared,
 * see BlobStore.put), deleted by its request. `refs`: files are shared, content-addressed blobs;
 * a refused request deletes only those it created and no photo refers to.
 */
export type BlobOwnership = { private: true } | { private: false; refs: BlobRefs };

/**
 * multer storage engine that streams each uploaded file into the BlobStore (temp file, fsync,
 * rename; sha256 id). A file larger than `maxBytes` fails the request with PHOTO_TOO_LARGE. The
 * callback runs only after put() resolved, so a blob that is referenced is always complete.
 */
export class BlobStorageEngine implements StorageEngine {
  constructor(
    private readonly blobs: BlobStore,
    private readonly maxBytes: number,
    private readonly ownership: BlobOwnership,
  ) {}

  _handleFile(_req: Request, file: Express.Multer.File, callback: (error?: unknown, info?: Partial<UploadedPhoto>) => void): void {
    this.blobs.put(file.stream, this.maxBytes, { private: this.ownership.private }).then(
      ({ blobId, size, sha256, created }) => callback(null, { blobId, size, sha256, created }),
      (err: unknown) => {
        // Let the parser move on (multer then drains the rest of the request and fails it).
        file.stream.resume();
        callback(err);
      },
    );
  }

  /** Called by multer for the files already stored when a later part of the request fails. */
  _removeFile(_req: Request, file: Express.Multer.File, callback: (error: Error | null) => void): void {
    this.discard([file as Partial<UploadedPhoto>]).then(
      () => callback(null),
      () => callback(null), // best effort: the request fails with its own error either way
    );
  }

  /**
   * Deletes what a refused request stored: its private blobs, or the shared blobs it created that
   * no photo refers to. (A blob another request stored first, or that a concurrent upload of the
   * same bytes has referenced since, stays.)
   */
  async discard(files: readonly Partial<UploadedPhoto>[]): Promise<void> {
    for (const { blobId, created } of files) {
      if (!blobId) continue;
      if (this.ownership.private) await this.blobs.delete(blobId);
      else if (created && !(await this.ownership.refs.isReferenced(blobId))) await this.blobs.delete(blobId);
    }
  }
}
