import type { FaceIndex } from '@facepipe/face-index';
import type { Redis } from 'ioredis';

/**
 * Photos, faces and people per collection. The matcher owns the index, so it keeps these counts
 * in memory (rebuilt from the index at start) and publishes absolute values to Redis, where the
 * gateway reads them; absolute writes make a retried photo harmless.
 */
export class CollectionStats {
  private readonly photos = new Map<string, Map<string, number>>(); // collection → photoKey → faces
  private readonly people = new Map<string, Map<string, number>>(); // collection → personId → faces

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /** Told the face count of a collection whenever it changes (the index-size gauge). */
    private readonly onFaces?: (collection: string, faces: number) => void,
  ) {}

  /** Rebuilds one collection's counts from the index (at start, or on first use). */
  async load(index: FaceIndex, collection: string): Promise<void> {
    const photos = new Map<string, number>(), people = new Map<string, number>();
    let cursor: string | undefined;
    do {
      const page = await index.scroll(collection, { cursor, limit: 1000 });
      for (const hit of page.items) {
        inc(photos, hit.payload.photoKey, 1);
        if (hit.payload.personId) inc(people, hit.payload.personId, 1);
      }
      cursor = page.next;
    } while (cursor);
    this.photos.set(collection, photos);
    this.people.set(collection, people);
  }

  has(collection: string): boolean {
    return this.photos.has(collection);
  }

  /** Replaces what one photo contributes: its old faces' persons out, the new ones in. */
  async replacePhoto(collection: string, photoKey: string, oldPersons: string[], newPersons: string[]): Promise<void> {
    const photos = this.photos.get(collection)!, people = this.people.get(collection)!;
    for (const p of oldPersons) inc(people, p, -1);
    for (const p of newPersons) inc(people, p, 1);
    photos.set(photoKey, newPersons.length);
    await this.publish(collection);
  }

  private async publish(collection: string): Promise<void> {
    const photos = this.photos.get(collection)!, people = this.people.get(collection)!;
    let faces = 0;
    for (const n of photos.values()) faces += n;
    this.onFaces?.(collection, faces);
    await this.redis.hset(`${this.prefix}:collection:${collection}:stats`, { photos: photos.size, faces, people: people.size });
  }
}

function inc(map: Map<string, number>, key: string, by: number): void {
  const v = (map.get(key) ?? 0) + by;
  if (v <= 0) map.delete(key);
  else map.set(key, v);
}
