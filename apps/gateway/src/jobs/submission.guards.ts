import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { CollectionsService, collectionNotFound } from '../collections/collections.service';
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
    const name = String(context.switchToHttp().getRequest<Request>().params.name ?? '');
    if (!collectionNameSchema.safeParse(name).success) throw collectionNotFound(name);
    await this.collections.assertExists(name);
    return true;
  }
}

@Injectable()
export class OpenJobGuard implements CanActivate {
  constructor(private readonly jobs: JobsService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    await this.jobs.openJob(String(context.switchToHttp().getRequest<Request>().params.id ?? ''));
    return true;
  }
}
