import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { CollectionsService, collectionNotFound } from '../collections/collections.service';
import type { CollectionRecord } from '../collections/collections.repository';
import { collectionNameSchema } from '../collections/collections.schemas';
import { JobsService } from './jobs.service';

/**
 * Guards run before the upload interceptor: a multipart upload for a collection or job that
 * cannot take it is refused before a byte of it is stored. The services check again.
 */
@Injectable()
export class CollectionExistsGuard implements CanActivate {
  constructor(private readonly collections: CollectionsService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<Request>();
    const name = String(req.params.name ?? '');
    if (!collectionNameSchema.safeParse(name).success) throw collectionNotFound(name);
    checked.set(req, await this.collections.record(name));
    return true;
  }
}

const checked = new WeakMap<Request, CollectionRecord>();

/**
 * The collection record CollectionExistsGuard read for this request: a route that needs it (the
 * search's threshold) saves a second Redis round trip on a latency-bound call.
 */
export function checkedCollection(req: Request): CollectionRecord | undefined {
  return checked.get(req);
}

@Injectable()
export class OpenJobGuard implements CanActivate {
  constructor(private readonly jobs: JobsService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    await this.jobs.openJob(String(context.switchToHttp().getRequest<Request>().params.id ?? ''));
    return true;
  }
}
