import type { FaceIndex, FacePayload } from '@facepipe/face-index';
import type { Redis } from 'ioredis';

/**
 * Photos, faces and people per collection. The matcher owns the index, so it keeps these counts
 * in memory (rebuilt from the index at start) and publishes absolute values to Redis, where the
 * gateway reads them; absolute writes make a retried photo harmless.
 *
 * A photo without faces (none found, or all of them erased with an identity) is still a photo of
 * the collection until it is erased, but the index holds nothing of it: such keys are kept in a
 * Redis set beside the counts, so that a restarted matcher counts them too.
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
        if (isUnknownPerson(hit.payload)) inc(people, hit.payload.personId!, 1);
      }
      cursor = page.next;
    } while (cursor);
    for (const key of await this.redis.smembers(this.facelessKey(collection))) if (!photos.has(key)) photos.set(key, 0);
    this.photos.set(collection, photos);
    this.people.set(collection, people);
  }

  has(collection: string): boolean {
    return this.photos.has(collection);
  }

  /** Replaces what one photo contributes: its old faces' persons out, the new ones in. */
  async replacePhoto(collection: string, photoKey: string, oldPersons: string[], newPersons: string[], faces = newPersons.length): Promise<void> {
    const photos = this.photos.get(collection)!, people = this.people.get(collection)!;
    for (const p of oldPersons) inc(people, p, -1);
    for (const p of newPersons) inc(people, p, 1);
    const was = photos.get(photoKey);
    photos.set(photoKey, faces);
    if ((was === 0) !== (faces === 0)) await this.markFaceless(collection, [photoKey]);
    await this.publish(collection);
  }

  /** Unknown people (faces of kind `person`) of a loaded collection: person id → faces. */
  peopleOf(collection: string): ReadonlyMap<string, number> {
    return this.people.get(collection) ?? new Map();
  }

  /**
   * Faces changed by an index operation: `before` are the payloads that went (deleted, or the old
   * version of a patched face), `after` the ones that came. Counts shift by the difference.
   */
  async applyChanges(collection: string, before: FacePayload[], after: FacePayload[]): Promise<void> {
    const photos = this.photos.get(collection), people = this.people.get(collection);
    if (!photos || !people) return; // not loaded: the next load reads the index as it is
    // A photo stays counted at 0 faces: only erasing the photo (removePhoto) removes it.
    const was = new Map<string, number | undefined>();
    for (const p of [...after, ...before]) if (!was.has(p.photoKey)) was.set(p.photoKey, photos.get(p.photoKey));
    for (const p of after) {
      photos.set(p.photoKey, (photos.get(p.photoKey) ?? 0) + 1);
      if (isUnknownPerson(p)) inc(people, p.personId!, 1);
    }
    for (const p of before) {
      photos.set(p.photoKey, Math.max(0, (photos.get(p.photoKey) ?? 0) - 1));
      if (isUnknownPerson(p)) inc(people, p.personId!, -1);
    }
    await this.markFaceless(collection, [...was].filter(([k, n]) => (n === 0) !== (photos.get(k) === 0)).map(([k]) => k));
    await this.publish(collection);
  }

  /** The photo is gone (erased), with or without faces. */
  async removePhoto(collection: string, photoKey: string): Promise<boolean> {
    const removed = this.photos.get(collection)?.delete(photoKey) ?? false;
    await this.redis.srem(this.facelessKey(collection), photoKey);
    if (this.photos.has(collection)) await this.publish(collection);
    return removed;
  }

  /** The photos a loaded collection counts. */
  photoKeys(collection: string): Iterable<string> {
    return this.photos.get(collection)?.keys() ?? [];
  }

  /** Whether a loaded collection counts this photo (a photo without faces has no index entry). */
  hasPhoto(collection: string, photoKey: string): boolean {
    return this.photos.get(collection)?.has(photoKey) ?? false;
  }

  /** The collection is gone: its counts, here and in Redis. */
  async forget(collection: string): Promise<void> {
    this.photos.delete(collection);
    this.people.delete(collection);
    this.onFaces?.(collection, 0);
    await this.redis.del(`${this.prefix}:collection:${collection}:stats`, this.facelessKey(collection));
  }

  private facelessKey(collection: string): string {
    return `${this.prefix}:collection:${collection}:faceless`;
  }

  /** Brings the faceless set in line with the counts of `keys` (those that became or ceased to be faceless). */
  private async markFaceless(collection: string, keys: string[]): Promise<void> {
    const photos = this.photos.get(collection)!;
    const empty = keys.filter((k) => photos.get(k) === 0), some = keys.filter((k) => (photos.get(k) ?? 0) > 0);
    if (empty.length === 0 && some.length === 0) return;
    const tx = this.redis.multi();
    if (empty.length > 0) tx.sadd(this.facelessKey(collection), ...empty);
    if (some.length > 0) tx.srem(this.facelessKey(collection), ...some);
    await tx.exec();
  }

  private async publish(collection: string): Promise<void> {
    const photos = this.photos.get(collection)!, people = this.people.get(collection)!;
    let faces = 0;
    for (const n of photos.values()) faces += n;
    this.onFaces?.(collection, faces);
    await this.redis.hset(`${this.prefix}:collection:${collection}:stats`, { photos: photos.size, faces, people: people.size });
  }
}

/** A face of an unknown person: people counts and lists hold these only, never identity faces. */
export function isUnknownPerson(p: FacePayload): boolean {
  return !!p.personId && p.kind !== 'identity';
}

function inc(map: Map<string, number>, key: string, by: number): void {
  const v = (map.get(key) ?? 0) + by;
  if (v <= 0) map.delete(key);
  else map.set(key, v);
}
