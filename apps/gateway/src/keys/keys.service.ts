import { Injectable } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { ApiError } from '../common/api-error';
import { GatewayLogger } from '../common/gateway-logger';
import { InjectConfig, type GatewayConfig } from '../config/gateway-config';
import { isWithin } from '../jobs/photo-submission';
import { KeysRepository } from './keys.repository';
import { type CreateKey, type CreatedKey, KEY_ID, type KeyView } from './keys.schemas';

/** Issued keys start with this, so secret scanners and people can recognise one. */
export const KEY_PREFIX = 'fpk_';

/**
 * The stored form of a key. A plain, unsalted, fast sha256 is enough here, unlike for passwords:
 * every issued key carries 256 random bits, so there is no dictionary to try and no way to
 * brute-force a preimage, and a salt would only stop us finding a key by its digest in one HGET.
 * Hashing also makes the admin key's comparison constant-time whatever the lengths.
 */
export function keyDigest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

@Injectable()
export class KeysService {
  constructor(
    private readonly repo: KeysRepository,
    private readonly logger: GatewayLogger,
    @InjectConfig() private readonly config: GatewayConfig,
  ) {}

  /** A new key: `fpk_` + 32 random bytes in base64url. The caller sees it once; only its digest is kept. */
  async create(input: CreateKey): Promise<CreatedKey> {
    const key = KEY_PREFIX + randomBytes(32).toString('base64url');
    const record: KeyView = {
      id: `k${randomBytes(8).toString('hex')}`,
      collections: input.collections,
      scopes: input.scopes,
      pathRoots: this.keyPathRoots(input.pathRoots ?? []),
      createdAt: new Date().toISOString(),
    };
    await this.repo.create(keyDigest(key).toString('hex'), record);
    this.logger.info('api key created', { keyId: record.id, collections: record.collections, scopes: record.scopes, pathRoots: record.pathRoots });
    return { ...record, key };
  }

  /**
   * A key's path roots, normalised: absolute, each FACEPIPE_PATH_ROOTS or inside one. A tenant's
   * key reads only the folders it is given (FACEPIPE_PATH_ROOTS is one list for every caller).
   */
  private keyPathRoots(roots: string[]): string[] {
    const out = new Set<string>();
    roots.forEach((raw, i) => {
      const field = `pathRoots.${i}`;
      if (raw.includes('\0') || !path.isAbsolute(raw)) throw ApiError.badRequest('PATH_NOT_ALLOWED', `${field}: must be an absolute path`, field);
      const root = path.resolve(raw);
      if (!this.config.pathRoots.some((allowed) => root === path.resolve(allowed) || isWithin(root, allowed))) {
        throw ApiError.badRequest('PATH_NOT_ALLOWED', `${field}: ${raw} is not FACEPIPE_PATH_ROOTS nor inside one of them`, field);
      }
      out.add(root);
    });
    return [...out];
  }

  async list(): Promise<KeyView[]> {
    return (await this.repo.list()).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /** Revocation counts from the next request on: nothing caches keys. */
  async revoke(id: string): Promise<void> {
    if (!KEY_ID.test(id) || !(await this.repo.revoke(id))) throw ApiError.notFound('KEY_NOT_FOUND', `API key ${id} does not exist`);
    this.logger.info('api key revoked', { keyId: id });
  }

  /** The record of a presented key by its keyDigest, or null when it is not (or no longer) an issued key. */
  findByDigest(digest: Buffer): Promise<KeyView | null> {
    return this.repo.findByDigest(digest.toString('hex'));
  }
}
