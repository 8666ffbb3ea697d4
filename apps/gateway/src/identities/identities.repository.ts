import { type IdentityRecord, identitiesKey } from '@facepipe/contracts';
import { Injectable } from '@nestjs/common';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { InjectConfig, type GatewayConfig } from '../config/gateway-config';

/**
 * Keys, per collection (all under `<prefix>:collection:<c>:`, so deleting a collection takes them):
 *   identities          hash  id → JSON IdentityRecord (the matcher reads names here; the people
 *                             routes create records here too, when a person is named)
 *   identity-ids        zset  every id at score 0: the listing order (by id) and its cursor
 *   identity-external   hash  externalId → id (unique per collection)
 *   identity-deleting   hash  id → 'detach' | 'erase': deletions whose faces are still being handled
 *   identity-erasing:<id> set face ids whose thumbnails an erasing deletion must remove
 * Every change is one Lua script: two requests can never both take an externalId, and a record and
 * its index entries change together.
 */

/** ARGV: id, record JSON, externalId ('' for none). Returns '' when created, else the id that holds the externalId. */
const CREATE = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return redis.error_reply('identity id taken') end
if ARGV[3] ~= '' then
  local owner = redis.call('HGET', KEYS[3], ARGV[3])
  if owner and redis.call('HEXISTS', KEYS[1], owner) == 1 then return owner end
  redis.call('HSET', KEYS[3], ARGV[3], ARGV[1])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return ''
`;

/**
 * Compare and set. ARGV: id, the record JSON as read, the new JSON (or '' to delete), old
 * externalId, new externalId ('' for none). Returns 'ok', 'changed' (read again), 'missing', or
 * 'taken:<id>' when another identity holds the new externalId.
 */
const REPLACE = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 'missing' end
if current ~= ARGV[2] then return 'changed' end
local old, new = ARGV[4], ARGV[5]
if new ~= '' and new ~= old then
  local owner = redis.call('HGET', KEYS[3], new)
  if owner and owner ~= ARGV[1] and redis.call('HEXISTS', KEYS[1], owner) == 1 then return 'taken:' .. owner end
end
if old ~= '' and old ~= new and redis.call('HGET', KEYS[3], old) == ARGV[1] then redis.call('HDEL', KEYS[3], old) end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  if new ~= '' and redis.call('HGET', KEYS[3], new) == ARGV[1] then redis.call('HDEL', KEYS[3], new) end
  return 'ok'
end
if new ~= '' then redis.call('HSET', KEYS[3], new, ARGV[1]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 'ok'
`;

/**
 * KEYS: identities, identity-ids, identity-external, identity-deleting. ARGV: id, mode. Starts the
 * deletion of an identity: its record goes now (and its externalId with it) and the deletion is
 * marked in progress with its mode until finishDelete. Returns 'started'; 'resumed' when a
 * deletion of the same mode is in progress (a repeated or concurrent DELETE); 'busy:<mode>' when
 * one of the other mode is; 'missing' when there is no such identity.
 */
const START_DELETE = `
local mode = redis.call('HGET', KEYS[4], ARGV[1])
if mode then
  if mode == ARGV[2] then return 'resumed' end
  return 'busy:' .. mode
end
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 'missing' end
local ok, record = pcall(cjson.decode, current)
local external = ok and type(record) == 'table' and record.externalId
if type(external) == 'string' and redis.call('HGET', KEYS[3], external) == ARGV[1] then redis.call('HDEL', KEYS[3], external) end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[2])
return 'started'
`;

/**
 * One page by id after ARGV[1] ('' for the first), ARGV[2] + 1 entries (the extra one says whether
 * there is a next page): id, JSON pairs. Records written without the id index (the people routes
 * write the hash only) are indexed here first: when the counts differ, the index is rebuilt.
 */
const PAGE = `
if redis.call('HLEN', KEYS[1]) ~= redis.call('ZCARD', KEYS[2]) then
  redis.call('DEL', KEYS[2])
  local ids = redis.call('HKEYS', KEYS[1])
  for i = 1, #ids, 500 do
    local args = {}
    for j = i, math.min(i + 499, #ids) do
      args[#args + 1] = 0
      args[#args + 1] = ids[j]
    end
    redis.call('ZADD', KEYS[2], unpack(args))
  end
end
local from = '-'
if ARGV[1] ~= '' then from = '(' .. ARGV[1] end
local ids = redis.call('ZRANGEBYLEX', KEYS[2], from, '+', 'LIMIT', 0, tonumber(ARGV[2]) + 1)
local out = {}
for _, id in ipairs(ids) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', KEYS[1], id) or ''
end
return out
`;

interface IdentityCommands {
  facepipeIdentityCreate(hash: string, ids: string, external: string, id: string, json: string, externalId: string): Promise<string>;
  facepipeIdentityReplace(hash: string, ids: string, external: string, id: string, expected: string, next: string, oldExternal: string, newExternal: string): Promise<string>;
  facepipeIdentityPage(hash: string, ids: string, after: string, limit: string): Promise<string[]>;
  facepipeIdentityStartDelete(hash: string, ids: string, external: string, deleting: string, id: string, mode: string): Promise<string>;
}

/** What an identity's faces become when it is deleted. */
export type DeleteMode = 'detach' | 'erase';

export type StartDeleteOutcome = { ok: true; resumed: boolean } | { ok: false; reason: 'missing' } | { ok: false; reason: 'busy'; mode: DeleteMode };

export type ReplaceOutcome = { ok: true; record: IdentityRecord | null } | { ok: false; reason: 'missing' } | { ok: false; reason: 'taken'; owner: string };

/** Identity records in Redis; no product logic beyond keeping the record and its indexes consistent. */
@Injectable()
export class IdentitiesRepository {
  private readonly redis: Redis & IdentityCommands;

  constructor(
    redis: Redis,
    @InjectConfig() private readonly config: GatewayConfig,
  ) {
    redis.defineCommand('facepipeIdentityCreate', { numberOfKeys: 3, lua: CREATE });
    redis.defineCommand('facepipeIdentityReplace', { numberOfKeys: 3, lua: REPLACE });
    redis.defineCommand('facepipeIdentityPage', { numberOfKeys: 2, lua: PAGE });
    redis.defineCommand('facepipeIdentityStartDelete', { numberOfKeys: 4, lua: START_DELETE });
    this.redis = redis as Redis & IdentityCommands;
  }

  private keys(collection: string): [string, string, string] {
    const base = `${this.config.prefix}:collection:${collection}`;
    return [identitiesKey(this.config.prefix, collection), `${base}:identity-ids`, `${base}:identity-external`];
  }

  private deletingKey(collection: string): string {
    return `${this.config.prefix}:collection:${collection}:identity-deleting`;
  }

  /**
   * Removes the record (the identity is gone for every reader from here) and marks its deletion in
   * progress until finishDelete, so that a DELETE cut off before its faces were handled can be
   * repeated, and a concurrent one of the other mode is refused rather than half-done.
   */
  async startDelete(collection: string, id: string, mode: DeleteMode): Promise<StartDeleteOutcome> {
    const outcome = await this.redis.facepipeIdentityStartDelete(...this.keys(collection), this.deletingKey(collection), id, mode);
    if (outcome === 'started' || outcome === 'resumed') return { ok: true, resumed: outcome === 'resumed' };
    if (outcome === 'missing') return { ok: false, reason: 'missing' };
    return { ok: false, reason: 'busy', mode: outcome.slice('busy:'.length) as DeleteMode };
  }

  /** The identity deletions of these collections that have started and not finished. */
  async deletionsInProgress(collections: string[]): Promise<Array<{ collection: string; id: string; mode: DeleteMode }>> {
    const marks = await Promise.all(collections.map((c) => this.redis.hgetall(this.deletingKey(c)))); // one pipeline
    return collections.flatMap((collection, i) => Object.entries(marks[i]).map(([id, mode]) => ({ collection, id, mode: mode as DeleteMode })));
  }

  /** The deleted identity's faces have been handled. */
  async finishDelete(collection: string, id: string): Promise<void> {
    await this.redis.multi().hdel(this.deletingKey(collection), id).del(this.erasedFacesKey(collection, id)).exec();
  }

  /** Adds to the face ids an erasing DELETE of the identity must remove the thumbnails of. */
  async rememberErasedFaces(collection: string, id: string, faceIds: string[]): Promise<void> {
    if (faceIds.length > 0) await this.redis.sadd(this.erasedFacesKey(collection, id), ...faceIds);
  }

  async erasedFaces(collection: string, id: string): Promise<string[]> {
    return this.redis.smembers(this.erasedFacesKey(collection, id));
  }

  private erasedFacesKey(collection: string, id: string): string {
    return `${this.config.prefix}:collection:${collection}:identity-erasing:${id}`;
  }

  /** Stores a new record under a fresh id; `{ taken }` when another identity holds its externalId. */
  async create(collection: string, fields: Omit<IdentityRecord, 'id'>): Promise<{ record: IdentityRecord } | { taken: string }> {
    const record: IdentityRecord = { id: `i${randomBytes(12).toString('hex')}`, ...fields };
    const owner = await this.redis.facepipeIdentityCreate(...this.keys(collection), record.id, JSON.stringify(record), record.externalId ?? '');
    return owner === '' ? { record } : { taken: owner };
  }

  async get(collection: string, id: string): Promise<IdentityRecord | null> {
    const raw = await this.redis.hget(this.keys(collection)[0], id);
    return raw === null ? null : (JSON.parse(raw) as IdentityRecord);
  }

  async byExternalId(collection: string, externalId: string): Promise<IdentityRecord | null> {
    const [, , external] = this.keys(collection);
    const id = await this.redis.hget(external, externalId);
    const record = id === null ? null : await this.get(collection, id);
    return record?.externalId === externalId ? record : null;
  }

  /**
   * Applies `change` to the record (null deletes it) atomically with its externalId index,
   * reading again when someone else changed it meanwhile.
   */
  async replace(collection: string, id: string, change: (record: IdentityRecord) => IdentityRecord | null): Promise<ReplaceOutcome> {
    for (;;) {
      const raw = await this.redis.hget(this.keys(collection)[0], id);
      if (raw === null) return { ok: false, reason: 'missing' };
      const current = JSON.parse(raw) as IdentityRecord;
      const next = change(current);
      const outcome = await this.redis.facepipeIdentityReplace(
        ...this.keys(collection),
        id,
        raw,
        next === null ? '' : JSON.stringify(next),
        current.externalId ?? '',
        next === null ? '' : (next.externalId ?? ''),
      );
      if (outcome === 'ok') return { ok: true, record: next };
      if (outcome === 'missing') return { ok: false, reason: 'missing' };
      if (outcome.startsWith('taken:')) return { ok: false, reason: 'taken', owner: outcome.slice('taken:'.length) };
    }
  }

  /** Records ordered by id, `limit` at most after the id `after`; `next` when there are more. */
  async page(collection: string, after: string | undefined, limit: number): Promise<{ items: IdentityRecord[]; next?: string }> {
    const flat = await this.redis.facepipeIdentityPage(this.keys(collection)[0], this.keys(collection)[1], after ?? '', String(limit));
    const entries: [string, string][] = [];
    for (let i = 0; i < flat.length; i += 2) entries.push([flat[i], flat[i + 1]]);
    const more = entries.length > limit;
    const page = entries.slice(0, limit);
    // An id whose record went (deleted by the people routes' cleanup) is skipped, not shown empty.
    const items = page.filter(([, json]) => json !== '').map(([, json]) => JSON.parse(json) as IdentityRecord);
    return more ? { items, next: page[page.length - 1][0] } : { items };
  }
}
