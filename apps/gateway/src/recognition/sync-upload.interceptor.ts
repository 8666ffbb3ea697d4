import { BlobRefs, BlobStore } from '@facepipe/pipeline';
import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { FileFieldsInterceptor, type MulterModuleOptions } from '@nestjs/platform-express';
import type { Request } from 'express';
import { type Observable, defer, finalize, switchMap } from 'rxjs';
import { GatewayLogger } from '../common/gateway-logger';
import { InjectConfig, type GatewayConfig } from '../config/gateway-config';
import { BlobStorageEngine, type UploadedPhoto } from '../jobs/blob-storage.engine';
import { mapUploadError } from '../jobs/photo-upload.interceptor';

/** The file fields of the synchronous calls: `photo` (search, enrol, detect), `a` and `b` (verify). */
export const SYNC_FILE_FIELDS = ['photo', 'a', 'b'] as const;
export type SyncFileField = (typeof SYNC_FILE_FIELDS)[number];
export type SyncUploads = Partial<Record<SyncFileField, UploadedPhoto[]>>;

/**
 * Blob references of synchronous calls live under this pseudo-collection of BlobRefs (no real
 * collection can have this name), keyed by request: uploads are content-addressed, so the same
 * bytes may also be an ingested photo or another call's upload, and a blob is deleted only when
 * nothing refers to it any more.
 */
const SYNC_REFS = '~sync';

let counter = 0;

/**
 * Streams the photos of a synchronous call into the blob store (the same engine and limits as
 * ingest) before the route runs, and deletes them once the route has answered, whatever the answer:
 * photos sent to search, verify, detect or enrol are not kept (an enrolled face keeps its vector,
 * payload and thumbnail, not the photo). A JSON request passes through untouched.
 */
@Injectable()
export class SyncUploadInterceptor implements NestInterceptor {
  private readonly files: NestInterceptor;

  constructor(
    private readonly blobs: BlobStore,
    private readonly refs: BlobRefs,
    private readonly logger: GatewayLogger,
    @InjectConfig() private readonly config: GatewayConfig,
  ) {
    const options: MulterModuleOptions = {
      storage: new BlobStorageEngine(blobs, config.maxPhotoBytes),
      limits: { files: SYNC_FILE_FIELDS.length, fields: 8, fieldSize: 8 * 1024, fileSize: config.maxPhotoBytes + 1 },
    };
    const Files = FileFieldsInterceptor(SYNC_FILE_FIELDS.map((name) => ({ name, maxCount: 1 })), options);
    this.files = new Files();
  }

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const req = context.switchToHttp().getRequest<Request>();
    if (!req.is('multipart/form-data')) return next.handle();
    const refKey = `${process.pid}-${Date.now()}-${++counter}`;
    // Recorded as soon as the blobs exist, released when the route has answered (or failed).
    const stored = (): { key: string; blobId: string }[] =>
      Object.entries((req.files ?? {}) as SyncUploads).flatMap(([field, files]) => (files ?? []).map((f) => ({ key: `${refKey}/${field}`, blobId: f.blobId })));
    const release = () => void this.release(stored().map((r) => r.key));
    let handled: Observable<unknown>;
    try {
      // multer has stored every file when it calls handle(); the route has not run yet.
      handled = await this.files.intercept(context, {
        handle: () => defer(() => this.refs.record(SYNC_REFS, stored())).pipe(switchMap(() => next.handle())),
      });
    } catch (err) {
      release();
      throw mapUploadError(err, this.config.maxPhotoBytes, `Photos go in the fields ${SYNC_FILE_FIELDS.map((f) => `"${f}"`).join(', ')} (one file each)`);
    }
    return handled.pipe(finalize(release));
  }

  private async release(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    try {
      for (const blobId of await this.refs.release(SYNC_REFS, keys)) await this.blobs.delete(blobId);
    } catch (err) {
      this.logger.warn('could not delete the photos of a synchronous call', { error: err instanceof Error ? err.message : String(err) });
    }
  }
}
