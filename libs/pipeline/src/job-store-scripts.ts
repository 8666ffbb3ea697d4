/**
 * The Lua scripts behind JobStore, one per operation. Each runs atomically in Redis, so counters
 * can never be read by one process and written back by another (two matchers settling the last two
 * photos of a job at once both see the job finish — or neither, never one of each by accident).
 *
 * Keys of a job (see JobStore.keys): meta hash, key zset (score = insertion sequence), results hash
 * (photo key → PhotoResult JSON), deliveries list (webhook attempts, JSON).
 */

/**
 * A completed job is kept for the retention (seconds; 0 keeps it for ever): all four of its keys
 * expire together. A key written after completion (a re-settled result, a webhook attempt)
 * inherits the meta hash's remaining time, so no part of the job outlives the rest.
 */
const RETENTION = `
local function inheritTtl(meta, key)
  local left = redis.call('PTTL', meta)
  if left > 0 then redis.call('PEXPIRE', key, left) end
end
local function startRetention(retention)
  if tonumber(retention) > 0 then
    for i = 1, 4 do redis.call('EXPIRE', KEYS[i], retention) end
  end
end
`;

/**
 * Marks a sealed job whose photos have all settled as completed, and starts its retention; 1 the
 * first time only.
 */
const COMPLETE_IF_DONE = `${RETENTION}
local function completeIfDone(meta, now, retention)
  local v = redis.call('HMGET', meta, 'sealed', 'completed', 'total', 'done', 'failed')
  if v[1] == '1' and v[2] == '0' and tonumber(v[4]) + tonumber(v[5]) >= tonumber(v[3]) then
    redis.call('HSET', meta, 'completed', '1', 'finishedAt', now)
    startRetention(retention)
    return 1
  end
  return 0
end
`;

/**
 * KEYS: meta, keys, results, deliveries, creating (the prefix's zset of jobs whose creator has not
 * answered yet). ARGV: id, collection, sealed (0|1), createdAt, webhookUrl|'', webhookSecret|'',
 * retention, now (ms). Photos come later (ADD_PHOTOS). A job created open is recorded in `creating`
 * (score: now) until its creator has handed its id out (JobStore.markAnswered); see
 * JobStore.unansweredCreates for what happens otherwise. Returns 0, or -1 if the id exists already.
 */
export const CREATE_JOB = `${RETENTION}
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'collection', ARGV[2], 'sealed', ARGV[3], 'createdAt', ARGV[4],
  'total', 0, 'done', 0, 'failed', 0, 'faces', 0, 'seq', 0, 'completed', '0')
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'webhookUrl', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'webhookSecret', ARGV[6]) end
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[1], 'completed', '1', 'finishedAt', ARGV[4])
  startRetention(ARGV[7])
else
  redis.call('ZADD', KEYS[5], ARGV[8], ARGV[1])
end
return 0
`;

/**
 * KEYS: meta, keys, adding (the prefix's zset of adds not yet known to be queued). ARGV: now (ms),
 * photo keys… A key already in the job is skipped: a retried request adds nothing twice, and a
 * job takes each key once. The new keys get the next sequence numbers, and the add is recorded in
 * `adding` as the token "<job id>:<first seq, exclusive>:<last seq>" (score: now) until the caller
 * has queued them (JobStore.markQueued); see JobStore.strandedAdds for what happens otherwise.
 * Returns {token, new keys…} ({''} when nothing was new), -1 no such job, -2 sealed.
 */
export const ADD_PHOTOS = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HGET', KEYS[1], 'sealed') == '1' then return -2 end
local first = tonumber(redis.call('HGET', KEYS[1], 'seq'))
local seq = first
local out = {''}
for i = 2, #ARGV do
  if not redis.call('ZSCORE', KEYS[2], ARGV[i]) then
    seq = seq + 1
    redis.call('ZADD', KEYS[2], seq, ARGV[i])
    out[#out + 1] = ARGV[i]
  end
end
if seq > first then
  redis.call('HSET', KEYS[1], 'seq', seq)
  redis.call('HINCRBY', KEYS[1], 'total', seq - first)
  out[1] = redis.call('HGET', KEYS[1], 'id') .. ':' .. first .. ':' .. seq
  redis.call('ZADD', KEYS[3], ARGV[1], out[1])
end
return out
`;

/**
 * KEYS: meta, keys, results, deliveries. ARGV: now, retention. Returns 1 if this call completed
 * the job, 0 if not, -1 no such job.
 */
export const SEAL_JOB = `${COMPLETE_IF_DONE}
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HSET', KEYS[1], 'sealed', '1')
return completeIfDone(KEYS[1], ARGV[1], ARGV[2])
`;

/**
 * KEYS: meta, keys, results, deliveries. ARGV: photo key, status (done|failed), face count, result
 * JSON, now, retention.
 * The first settle of a key counts it; a later one takes the previous result's contribution back
 * out before adding its own, so a retried or re-run photo moves counts, never inflates them.
 * Returns 1 if this call completed the job, 0 if not, -1 no such job, -2 key not in the job.
 */
export const SETTLE_PHOTO = `${COMPLETE_IF_DONE}
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return -2 end
local prev = redis.call('HGET', KEYS[3], ARGV[1])
if prev then
  local p = cjson.decode(prev)
  redis.call('HINCRBY', KEYS[1], p.status, -1)
  redis.call('HINCRBY', KEYS[1], 'faces', 0 - #p.faces) -- not -#: Lua prints -0, which HINCRBY rejects
end
redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
redis.call('HINCRBY', KEYS[1], 'faces', tonumber(ARGV[3]))
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
inheritTtl(KEYS[1], KEYS[3])
return completeIfDone(KEYS[1], ARGV[5], ARGV[6])
`;

/** KEYS: meta, deliveries. ARGV: delivery JSON, how many to keep. Returns 1, or -1 no such job. */
export const RECORD_DELIVERY = `${RETENTION}
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
inheritTtl(KEYS[1], KEYS[2])
return 1
`;

/**
 * Read-only. KEYS: meta, keys, results. ARGV: after (sequence, exclusive), limit, scan budget.
 * Walks keys in insertion order from the cursor, collecting settled results until `limit` are found
 * or `budget` keys were examined (a page can be short while photos are pending; it never blocks
 * Redis for long). Returns {next cursor or '', result JSON…}, or -1 no such job.
 */
export const RESULTS_PAGE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local limit = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
local out = {''}
local found = 0
local scanned = 0
local last = ARGV[1]
local exhausted = false
while found < limit and scanned < budget do
  local want = math.min(limit - found, budget - scanned)
  local page = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. last, '+inf', 'WITHSCORES', 'LIMIT', 0, want)
  local n = #page / 2
  if n == 0 then exhausted = true break end
  local members = {}
  for i = 1, n do members[i] = page[2 * i - 1] end
  local results = redis.call('HMGET', KEYS[3], unpack(members))
  for i = 1, n do
    if results[i] then
      found = found + 1
      out[found + 1] = results[i]
    end
  end
  scanned = scanned + n
  last = page[2 * n]
  if n < want then exhausted = true break end
end
if not exhausted and #redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. last, '+inf', 'LIMIT', 0, 1) > 0 then
  out[1] = last
end
return out
`;
