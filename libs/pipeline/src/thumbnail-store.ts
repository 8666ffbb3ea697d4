import { collectionOfFaceId, collectionsKey } from '@facepipe/contracts';
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { createdAtOf } from './collection-registry';

/** An aligned face crop: interleaved RGB bytes. */
export interface FaceCrop {
  width: number;
  height: number;
  data: Uint8Array;
}

export const THUMBNAIL_JPEG_QUALITY = 85;

/** The thumbnails' directory under FACEPIPE_DATA_DIR: beside the uploads, on the volume the gateway and detectors share. */
export function thumbnailDir(dataDir: string): string {
  return path.join(dataDir, 'blobs', 'thumbnails');
}

/**
 * The aligned face crops of indexed faces, as JPEG, so people can be looked at: written by the
 * detector during ingest, served by the gateway (`GET /v1/faces/{faceId}/thumbnail`), erased with
 * their photo, identity or collection. They live beside the uploads (`<FACEPIPE_DATA_DIR>/blobs/
 * thumbnails`, the volume the gateway and detectors share).
 *
 * Layout: `<dir>/<collection>/<generation>/<2 hex>/<faceId>.jpg`. The generation is the
 * collection's creation time in the registry, so a crop written by an in-flight photo just after
 * its collection was deleted lands in a generation nobody reads — a collection re-created under
 * the same name never shows it — and the writer, seeing that generation is no longer the live one,
 * removes it again.
 */
export class ThumbnailStore {
  constructor(
    private readonly dir: string,
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /**
   * Writes the crops of one photo's faces (all of one collection). Returns false, writing nothing,
   * when the collection is not registered (deleted while the photo was in flight). `createdAt`:
   * the collection's creation time as the caller checked it, when it did; a namesake created since
   * then does not get these crops.
   *
   * A collection deleted while the crops were being written has had its thumbnails dropped
   * already: the generation is checked again afterwards, and crops of a generation no longer live
   * are removed here (returning false), so they never stay on disk. Deleted after that check,
   * the collection's own drop removes them.
   */
  async putMany(collection: string, faces: { faceId: string; crop: FaceCrop }[], createdAt?: string): Promise<boolean> {
    const generation = createdAt !== undefined ? generationOf(createdAt) : await this.generation(collection);
    if (generation === null) return false;
    for (const { faceId, crop } of faces) {
      if (collectionOfFaceId(faceId) !== collection) throw new TypeError(`face ${faceId} is not of collection ${collection}`);
      const jpeg = await sharp(Buffer.from(crop.data.buffer, crop.data.byteOffset, crop.data.byteLength), {
        raw: { width: crop.width, height: crop.height, channels: 3 },
      })
        .jpeg({ quality: THUMBNAIL_JPEG_QUALITY })
        .toBuffer();
      const file = this.fileOf(collection, generation, faceId);
      await fs.mkdir(path.dirname(file), { recursive: true });
      // Temp file and rename: a reader never gets half a JPEG.
      const tmp = `${file}.${randomUUID()}.tmp`;
      try {
        await fs.writeFile(tmp, jpeg);
        await fs.rename(tmp, file);
      } catch (err) {
        // A full disk leaves the temp file (empty or cut short) behind, once per retry of the job.
        await fs.rm(tmp, { force: true });
        throw err;
      }
    }
    if ((await this.generation(collection)) === generation) return true;
    // A dead generation holds nothing anyone will read: all of it goes, and the collection's folder if now empty.
    await fs.rm(path.join(this.dir, collection, generation), { recursive: true, force: true });
    await fs.rmdir(path.join(this.dir, collection)).catch(() => undefined);
    return false;
  }

  /** The JPEG of a face, or null when there is none (or its collection does not exist). */
  async read(faceId: string): Promise<Buffer | null> {
    const collection = collectionOfFaceId(faceId);
    if (collection === null) return null;
    const generation = await this.generation(collection);
    if (generation === null) return null;
    try {
      return await fs.readFile(this.fileOf(collection, generation, faceId));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  /** Removes the crops of these faces (missing ones are fine). */
  async delete(faceIds: string[]): Promise<void> {
    const generations = new Map<string, string | null>();
    for (const faceId of faceIds) {
      const collection = collectionOfFaceId(faceId);
      if (collection === null) continue;
      if (!generations.has(collection)) generations.set(collection, await this.generation(collection));
      const generation = generations.get(collection);
      // An unregistered collection's crops are removed by dropCollection, every generation at once.
      if (generation) await fs.rm(this.fileOf(collection, generation, faceId), { force: true });
    }
  }

  /** Removes every crop of the collection, of every generation. */
  async dropCollection(collection: string): Promise<void> {
    if (!/^[a-z0-9_-]{1,64}$/.test(collection)) return;
    await fs.rm(path.join(this.dir, collection), { recursive: true, force: true });
  }

  private async generation(collection: string): Promise<string | null> {
    const raw = await this.redis.hget(collectionsKey(this.prefix), collection);
    return raw === null ? null : generationOf(createdAtOf(raw));
  }

  private fileOf(collection: string, generation: string, faceId: string): string {
    const hex = faceId.slice(faceId.lastIndexOf('.f') + 2);
    return path.join(this.dir, collection, generation, hex.slice(0, 2), `${faceId}.jpg`);
  }
}

/** A collection's thumbnail generation: its creation time, as a folder name. */
function generationOf(createdAt: string | undefined): string {
  return createdAt !== undefined ? 'g' + createdAt.replace(/[^0-9A-Za-z]/g, '') : 'g0';
}
