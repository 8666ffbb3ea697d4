import { Injectable } from '@nestjs/common';
import { ApiError } from '../common/api-error';
import { InjectConfig, type GatewayConfig } from '../config/gateway-config';
import { type CollectionRecord, CollectionsRepository } from './collections.repository';
import type { Collection, CollectionStats, UpdateCollection } from './collections.schemas';

@Injectable()
export class CollectionsService {
  constructor(
    private readonly repo: CollectionsRepository,
    @InjectConfig() private readonly config: GatewayConfig,
  ) {}

  async create(name: string): Promise<Collection> {
    const createdAt = new Date().toISOString();
    if (await this.repo.isDeleting(name)) throw ApiError.conflict('COLLECTION_EXISTS', `Collection "${name}" is being deleted; try again when that has finished`);
    if (!(await this.repo.create(name, { createdAt }))) {
      throw ApiError.conflict('COLLECTION_EXISTS', `Collection "${name}" already exists`);
    }
    return { name, createdAt };
  }

  async stats(name: string): Promise<CollectionStats> {
    const record = await this.record(name);
    return { name, createdAt: record.createdAt, ...(await this.repo.stats(name)), threshold: this.thresholdOf(record) };
  }

  /** PATCH /v1/collections/{name}: sets (or, with null, resets) the match threshold. */
  async update(name: string, change: UpdateCollection): Promise<CollectionStats> {
    const updated = await this.repo.update(name, (record) => {
      const next: CollectionRecord = { ...record };
      if (change.threshold === null) delete next.threshold;
      else next.threshold = change.threshold;
      return next;
    });
    if (!updated) throw collectionNotFound(name);
    return { name, createdAt: updated.createdAt, ...(await this.repo.stats(name)), threshold: this.thresholdOf(updated) };
  }

  /** The registered record (404 COLLECTION_NOT_FOUND when there is none). */
  async record(name: string): Promise<CollectionRecord> {
    const record = await this.repo.get(name);
    if (!record) throw collectionNotFound(name);
    return record;
  }

  /**
   * The similarity at which a search's best candidate is a match: the collection's own, or the
   * model default. `known`: the record when the caller has already read it.
   */
  async matchThreshold(name: string, known?: CollectionRecord): Promise<number> {
    return this.thresholdOf(known ?? (await this.record(name)));
  }

  /** The collection's own threshold, or the model manifest's. */
  private thresholdOf(record: CollectionRecord): number {
    return record.threshold ?? this.config.defaultThreshold;
  }

  /** 404 COLLECTION_NOT_FOUND unless the collection is registered. */
  async assertExists(name: string): Promise<void> {
    if (!(await this.repo.exists(name))) throw collectionNotFound(name);
  }
}

export function collectionNotFound(name: string): ApiError {
  return ApiError.notFound('COLLECTION_NOT_FOUND', `Collection "${name}" does not exist`);
}
