import { Injectable } from '@nestjs/common';
import { ApiError } from '../common/api-error';
import { CollectionsRepository } from './collections.repository';
import type { Collection, CollectionStats } from './collections.schemas';

@Injectable()
export class CollectionsService {
  constructor(private readonly repo: CollectionsRepository) {}

  async create(name: string): Promise<Collection> {
    const createdAt = new Date().toISOString();
    if (!(await this.repo.create(name, { createdAt }))) {
      throw ApiError.conflict('COLLECTION_EXISTS', `Collection "${name}" already exists`);
    }
    return { name, createdAt };
  }

  async stats(name: string): Promise<CollectionStats> {
    await this.assertExists(name);
    return { name, ...(await this.repo.stats(name)) };
  }

  /** 404 COLLECTION_NOT_FOUND unless the collection is registered. */
  async assertExists(name: string): Promise<void> {
    if (!(await this.repo.exists(name))) throw collectionNotFound(name);
  }
}

export function collectionNotFound(name: string): ApiError {
  return ApiError.notFound('COLLECTION_NOT_FOUND', `Collection "${name}" does not exist`);
}
