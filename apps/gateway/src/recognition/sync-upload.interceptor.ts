import { BlobStore } from '@facepipe/pipeline';
import { type CallHandler, type CanActivate, type ExecutionContext, Injectable, type NestInterceptor, type Type, UseGuards, UseInterceptors, applyDecorators } from '@nestjs/common';
import { FileFieldsInterceptor, type MulterModuleOptions } from '@nestjs/platform-express';
import type { Request } from 'express';
import { type Observable, finalize } from 'rxjs';
import { RateLimited } from '../access/rate-limit';
import { ApiError } from '../common/api-error';
import { Accepts, ContentTypeGuard } from '../common/content-type.guard';
import { GatewayLogger } from '../common/gateway-logger';
import { InjectConfig, type GatewayConfig } from '../config/gateway-config';
import { BlobStorageEngine, type UploadedPhoto } from '../jobs/blob-storage.engine';
import { mapUploadError, namelessFileField } from '../jobs/photo-upload.interceptor';

/** The file fields of the synchronous calls: `photo` (search, enrol, detect), `a` and `b` (verify). */
export const SYNC_FILE_FIELDS = ['photo', 'a', 'b'] as const;
export type SyncFileField = (typeof SYNC_FILE_FIELDS)[number];
export type SyncUploads = Partial<Record<SyncFileField, UploadedPhoto[]>>;

/** A photo part without a file name (`filename=""` or none): multer takes it for a text field. */
export function namelessSyncPhoto(field: string): ApiError {
  return ApiError.badRequest('INVALID_MULTIPART', `${field}: send the photo as a file part, with a file name`, field);
}

/**
 * Streams the photos of a synchronous call into the blob store (the same engine and limits as
 * ingest) before the route runs, and deletes them once the route has answered, whatever the answer:
 * photos sent to search, verify, detect or enrol are not kept (an enrolled face keeps its vector,
 * payload and thumbnail, not the photo). Each is stored as a private blob (random id, not its hash),
 * so deleting it can never pull a file from under another call or an ingested photo with the same
 * bytes. A JSON request passes through untouched.
 */
@Injectable()
export class SyncUploadInterceptor implements NestInterceptor {
  private readonly files: NestInterceptor;
  private readonly storage: BlobStorageEngine;

  constructor(
    blobs: BlobStore,
    private readonly logger: GatewayLogger,
    @InjectConfig() private readonly config: GatewayConfig,
  ) {
    this.storage = new BlobStorageEngine(blobs, config.maxPhotoBytes, { private: true });
    const options: MulterModuleOptions = {
      storage: this.storage,
      limits: { files: SYNC_FILE_FIELDS.length, fields: 8, fieldSize: 8 * 1024, fileSize: config.maxPhotoBytes + 1 },
    };
    const Files = FileFieldsInterceptor(SYNC_FILE_FIELDS.map((name) => ({ name, maxCount: 1 })), options);
    this.files = new Files();
  }

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const req = context.switchToHttp().getRequest<Request>();
    if (!req.is('multipart/form-data')) return next.handle();
    // Deleted when the route has answered (or failed), including files stored before a failure.
    const stored = (): UploadedPhoto[] => Object.values((req.files ?? {}) as SyncUploads).flatMap((files) => files ?? []);
    const release = () => void this.release(stored());
    let handled: Observable<unknown>;
    try {
      handled = await this.files.intercept(context, next);
    } catch (err) {
      release();
      const nameless = namelessFileField(err);
      if (nameless && (SYNC_FILE_FIELDS as readonly string[]).includes(nameless)) throw namelessSyncPhoto(nameless);
      throw mapUploadError(err, this.config.maxPhotoBytes, `Photos go in the fields ${SYNC_FILE_FIELDS.map((f) => `"${f}"`).join(', ')} (one file each)`, this.logger);
    }
    return handled.pipe(finalize(release));
  }

  private async release(files: UploadedPhoto[]): Promise<void> {
    try {
      await this.storage.discard(files);
    } catch (err) {
      this.logger.warn('could not delete the photos of a synchronous call', { error: err instanceof Error ? err.message : String(err) });
    }
  }
}

/**
 * What every synchronous photo route (search, verify, detect, enrol) shares: rate limited; a JSON
 * or multipart body, its type checked before anything is read; then `guards` (the collection or
 * identity must exist), also before the upload; then the photos stored for the call and deleted
 * once it is answered.
 */
export function SyncPhotoRoute(...guards: Type<CanActivate>[]): MethodDecorator {
  return applyDecorators(
    RateLimited(),
    Accepts('application/json', 'multipart/form-data'),
    UseGuards(ContentTypeGuard, ...guards),
    UseInterceptors(SyncUploadInterceptor),
  );
}
