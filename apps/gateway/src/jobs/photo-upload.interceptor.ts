import { MAX_ITEMS_PER_REQUEST } from '@facepipe/contracts';
import { BlobRefs, BlobStore } from '@facepipe/pipeline';
import {
  BadRequestException,
  type CallHandler,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
  PayloadTooLargeException,
} from '@nestjs/common';
import { FilesInterceptor, type MulterModuleOptions } from '@nestjs/platform-express';
import type { Request } from 'express';
import { type Observable, catchError, from, mergeMap, throwError } from 'rxjs';
import { ApiError } from '../common/api-error';
import { GatewayLogger } from '../common/gateway-logger';
import { storageFull } from '../common/storage-full';
import { InjectConfig, type GatewayConfig } from '../config/gateway-config';
import { BlobStorageEngine, type UploadedPhoto } from './blob-storage.engine';
import { namelessPhoto } from './photo-submission';

/** The multipart field that carries the photos; each file's name is its key. */
export const PHOTOS_FIELD = 'photos';
/** Text fields a multipart submission may carry besides the files. */
export const MULTIPART_TEXT_FIELDS = ['webhookUrl', 'webhookSecret', 'seal'] as const;

/**
 * Parses a multipart submission, streaming every file of the `photos` field into the blob store
 * before the route runs; a JSON request passes through untouched. multer's errors become the
 * API's codes (TOO_MANY_ITEMS, PHOTO_TOO_LARGE, INVALID_MULTIPART). A refused submission (multer's
 * errors, or the route's: a bad key, a refused webhook…) keeps none of the blobs it created.
 */
@Injectable()
export class PhotoUploadInterceptor implements NestInterceptor {
  private readonly files: NestInterceptor;
  private readonly storage: BlobStorageEngine;

  constructor(
    blobs: BlobStore,
    refs: BlobRefs,
    private readonly logger: GatewayLogger,
    @InjectConfig() private readonly config: GatewayConfig,
  ) {
    this.storage = new BlobStorageEngine(blobs, config.maxPhotoBytes, { private: false, refs });
    const options: MulterModuleOptions = {
      storage: this.storage, // multer itself discards the stored files when it fails the request
      preservePath: true, // a client's relative path ("2019/img1.jpg") is a better key than its basename
      defParamCharset: 'utf8',
      limits: {
        files: MAX_ITEMS_PER_REQUEST,
        parts: MAX_ITEMS_PER_REQUEST + MULTIPART_TEXT_FIELDS.length + 8,
        fields: MULTIPART_TEXT_FIELDS.length + 8,
        fieldSize: 8 * 1024,
        fileSize: config.maxPhotoBytes + 1, // the blob store reports the overflow itself (PHOTO_TOO_LARGE)
      },
    };
    const Files = FilesInterceptor(PHOTOS_FIELD, undefined, options);
    this.files = new Files();
  }

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const req = context.switchToHttp().getRequest<Request>();
    if (!req.is('multipart/form-data')) return next.handle();
    let handled: Observable<unknown>;
    try {
      handled = await this.files.intercept(context, next);
    } catch (err) {
      throw this.mapUploadError(err);
    }
    return handled.pipe(catchError((err: unknown) => from(this.discard(req.files as UploadedPhoto[] | undefined)).pipe(mergeMap(() => throwError(() => err)))));
  }

  private async discard(files: UploadedPhoto[] | undefined): Promise<void> {
    try {
      await this.storage.discard(files ?? []);
    } catch (err) {
      this.logger.warn('could not delete the uploads of a refused submission', { error: err instanceof Error ? err.message : String(err) });
    }
  }

  private mapUploadError(err: unknown): unknown {
    if (namelessFileField(err) === PHOTOS_FIELD) return namelessPhoto();
    return mapUploadError(err, this.config.maxPhotoBytes, `Files must be sent in the "${PHOTOS_FIELD}" field`, this.logger);
  }
}

/**
 * The field of a file part sent without a file name, which multer refused as a text field over the
 * 8 KiB field limit ("Field value too long - photos"); a shorter one reaches the route as a text
 * field. Undefined for any other error.
 */
export function namelessFileField(err: unknown): string | undefined {
  return err instanceof BadRequestException ? /^Field value too long - (.+)$/.exec(err.message)?.[1] : undefined;
}

/**
 * multer's errors as the API's codes (TOO_MANY_ITEMS, PHOTO_TOO_LARGE, INVALID_MULTIPART); shared
 * with the synchronous calls' upload interceptor. `wrongField` is the message for a file sent in a
 * field the route does not take.
 */
export function mapUploadError(err: unknown, maxPhotoBytes: number, wrongField: string, logger?: GatewayLogger): unknown {
  const full = storageFull(err, logger);
  if (full) return full;
  // The client went away mid-upload (multer's own error): nobody to answer, and not our failure.
  if (err instanceof Error && err.message === 'Request aborted') return ApiError.badRequest('REQUEST_ABORTED', 'The request was aborted');
  if (err instanceof PayloadTooLargeException) {
    return new ApiError(413, 'PHOTO_TOO_LARGE', `A photo is larger than ${maxPhotoBytes} bytes`);
  }
  if (err instanceof BadRequestException) {
    const message = err.message;
    if (/^Too many (files|parts)/.test(message)) {
      return ApiError.badRequest('TOO_MANY_ITEMS', `At most ${MAX_ITEMS_PER_REQUEST} photos per request`);
    }
    if (/^Unexpected file field/.test(message)) return ApiError.badRequest('INVALID_MULTIPART', wrongField);
    return ApiError.badRequest('INVALID_MULTIPART', message);
  }
  return err;
}
