// The Lua scripts behind redis_batch_claims. Each runs atomically in Redis, so claiming, lease
// checks and state changes of a track never interleave between workers.
//
// Keys, all under the batch prefix P (ARGV[1] of every script):
//   P..'ids'          INCR counter of track ids (1-based, insertion order)
//   P..'index'        hash: track identity (task_id, audio_id, name, and the choices when any) → id;
//                     makes adding idempotent
//   P..'names'        set of output names in use (a repeated name gets "-<id>", like the journal)
//   P..'t:'..id       hash: task_id audio_id name out state sep midi error stage attempts ref owner
//                     type stem given
//                     (ref: the callback reference of the latest paid POST, journal_entry::intent_ref;
//                     type, stem, given: track_spec's separation, stem and separation_task_id, '' = unset)
//   P..'pending'      sorted set of claimable ids (score = id, so tracks go in list order)
//   P..'leases'       sorted set of claimed ids, score = lease expiry in ms of Redis' clock
//   P..'counts'       hash: state → number of tracks in it
//   P..'s:failed', P..'s:outcome_unknown', P..'s:not_written', P..'s:result_lost'
//                     sets of ids in those states (for requeueing)
//   P..'epoch'        the batch's identity: a random generation written when the batch is created
//                     (begin). Every worker remembers the one it opened; the scripts that touch a
//                     claimed track check it first, so a Redis that restarted empty, was flushed,
//                     evicted keys or failed over to a lagging replica is told apart from a batch
//                     that is simply finished.
// `owner` is the claim token of the worker holding (or, in a final state, last holding) the track.
//
// Changes are idempotent (a retried change that already ran answers as if it ran now), so the
// client may resend a script whose answer was lost with the connection.
#ifndef KIEMIDI_SRC_BATCH_REDIS_BATCH_SCRIPTS_HPP
#define KIEMIDI_SRC_BATCH_REDIS_BATCH_SCRIPTS_HPP

namespace kiemidi::detail::redis_batch_scripts {

/// Helpers every script starts with. The client appends the epoch it opened the batch with as
/// the last ARGV; `n` is the number of the script's own arguments before it.
inline constexpr const char* prelude = R"lua(
local p = ARGV[1]
local epoch = ARGV[#ARGV]
local n = #ARGV - 1
-- The batch this worker opened is not (all) there any more.
local function lost() return redis.call('GET', p .. 'epoch') ~= epoch end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function tkey(id) return p .. 't:' .. id end
-- States no worker holds. not_written is not one: it is held while its result is read again,
-- and left unheld (owner '') when the files still cannot be written, until the next open.
local function final(s) return s == 'done' or s == 'failed' or s == 'outcome_unknown' or s == 'result_lost' end
local listed = {failed = true, outcome_unknown = true, not_written = true, result_lost = true}
local function set_state(id, from, to)
  if from == to then return end
  local k = tkey(id)
  redis.call('HINCRBY', p .. 'counts', from, -1)
  redis.call('HINCRBY', p .. 'counts', to, 1)
  redis.call('HSET', k, 'state', to)
  if listed[from] then redis.call('SREM', p .. 's:' .. from, id) end
  if listed[to] then redis.call('SADD', p .. 's:' .. to, id) end
end
local function leased(id) return redis.call('ZSCORE', p .. 'leases', id) ~= false end
-- The latest state the recorded task ids allow (journal::requeue's rule).
local function resumable(k)
  if redis.call('HGET', k, 'midi') ~= '' then return 'transcribing' end
  if redis.call('HGET', k, 'sep') ~= '' then return 'separating' end
  return 'pending'
end
)lua";

/// ARGV: P; epoch: a new random generation. Writes it as the batch's identity unless the batch
/// already has one; returns the batch's epoch (the one given when the batch is created here).
inline constexpr const char* begin = R"lua(
redis.call('SET', p .. 'epoch', epoch, 'NX')
return redis.call('GET', p .. 'epoch')
)lua";

/// ARGV: P, then (task_id, audio_id, name, output base name, type, stem, separation task id) per
/// track. A track naming a separation starts at 'separating' with that task id (nothing to
/// separate). Returns the number added.
inline constexpr const char* add = R"lua(
local added = 0
for i = 2, n, 7 do
  local ident = #ARGV[i] .. ':' .. ARGV[i] .. #ARGV[i + 1] .. ':' .. ARGV[i + 1] .. ARGV[i + 2]
  -- The choices join the identity only when set, so a list added before they existed matches.
  local given = ARGV[i + 6]
  if ARGV[i + 4] ~= '' or ARGV[i + 5] ~= '' or given ~= '' then
    ident = ident .. '|' .. #ARGV[i + 4] .. ':' .. ARGV[i + 4] .. #ARGV[i + 5] .. ':' .. ARGV[i + 5] .. given
  end
  if redis.call('HEXISTS', p .. 'index', ident) == 0 then
    local id = redis.call('INCR', p .. 'ids')
    local out = ARGV[i + 3]
    if redis.call('SISMEMBER', p .. 'names', out) == 1 then out = out .. '-' .. id end
    redis.call('SADD', p .. 'names', out)
    redis.call('HSET', p .. 'index', ident, id)
    local state = given == '' and 'pending' or 'separating'
    redis.call('HSET', tkey(id), 'task_id', ARGV[i], 'audio_id', ARGV[i + 1], 'name', ARGV[i + 2], 'out', out,
               'state', state, 'sep', given, 'midi', '', 'error', '', 'stage', '', 'attempts', 0, 'ref', '',
               'owner', '', 'type', ARGV[i + 4], 'stem', ARGV[i + 5], 'given', given)
    redis.call('ZADD', p .. 'pending', id, id)
    redis.call('HINCRBY', p .. 'counts', state, 1)
    added = added + 1
  end
end
return added
)lua";

/// ARGV: P, retry_failed ('1'/'0'), resubmit_unknown ('1'/'0'), resubmit_lost ('1'/'0').
/// Makes not_written tracks nobody holds claimable again as they are (their result is read
/// again, for free); a track an earlier version failed at 'output' with its MIDI task id becomes
/// not_written the same way. With the flags, makes failed / outcome_unknown tracks claimable in
/// their latest resumable state, and result_lost ones from the start (a given separation kept).
/// Returns how many.
inline constexpr const char* requeue = R"lua(
local n = 0
local function rq(s)
  for _, id in ipairs(redis.call('SMEMBERS', p .. 's:' .. s)) do
    local k = tkey(id)
    set_state(id, s, resumable(k))
    redis.call('HSET', k, 'error', '', 'stage', '', 'owner', '')
    redis.call('ZADD', p .. 'pending', id, id)
    n = n + 1
  end
end
for _, id in ipairs(redis.call('SMEMBERS', p .. 's:failed')) do
  local k = tkey(id)
  if redis.call('HGET', k, 'stage') == 'output' and redis.call('HGET', k, 'midi') ~= '' then
    set_state(id, 'failed', 'not_written')
  end
end
for _, id in ipairs(redis.call('SMEMBERS', p .. 's:not_written')) do
  if not leased(id) then
    redis.call('HSET', tkey(id), 'owner', '')
    redis.call('ZADD', p .. 'pending', id, id)
    n = n + 1
  end
end
if ARGV[2] == '1' then rq('failed') end
if ARGV[3] == '1' then rq('outcome_unknown') end
if ARGV[4] == '1' then
  for _, id in ipairs(redis.call('SMEMBERS', p .. 's:result_lost')) do
    local k = tkey(id)
    local given = redis.call('HGET', k, 'given') or ''
    redis.call('HSET', k, 'midi', '', 'sep', given, 'error', '', 'stage', '', 'owner', '')
    set_state(id, 'result_lost', given == '' and 'pending' or 'separating')
    redis.call('ZADD', p .. 'pending', id, id)
    n = n + 1
  end
end
return n
)lua";

/// ARGV: P, claim token, lease ms. Takes the track whose lease expired first (a dead worker's),
/// else the first pending one. Returns {1, id, previous owner token, {fields}}, or
/// {0, ms until the next lease expires} when nothing is claimable but leases are held, or {-1}
/// when nothing is pending or leased, or {-2} when the batch's state was lost (its epoch gone or
/// changed, or its tracks gone while some never finished).
inline constexpr const char* claim = R"lua(
if lost() then return {-2} end
local now = now_ms()
local id
local prev = ''
local expired = redis.call('ZRANGEBYSCORE', p .. 'leases', '-inf', now, 'LIMIT', 0, 1)
if #expired > 0 then
  id = expired[1]
  prev = redis.call('HGET', tkey(id), 'owner') or ''
else
  local first = redis.call('ZRANGE', p .. 'pending', 0, 0)
  if #first == 0 then
    local nxt = redis.call('ZRANGE', p .. 'leases', 0, 0, 'WITHSCORES')
    if #nxt > 0 then return {0, tonumber(nxt[2]) - now} end
    -- Finished only if every track added is in a final state: an evicted queue looks empty.
    local added = tonumber(redis.call('GET', p .. 'ids') or '0')
    -- not_written tracks nobody holds wait for the next open; they end this run too.
    local c = redis.call('HMGET', p .. 'counts', 'done', 'failed', 'outcome_unknown', 'not_written', 'result_lost')
    local ended = 0
    for _, v in ipairs(c) do ended = ended + tonumber(v or '0') end
    if ended < added then return {-2} end
    return {-1}
  end
  id = first[1]
  redis.call('ZREM', p .. 'pending', id)
end
local k = tkey(id)
redis.call('HSET', k, 'owner', ARGV[2])
redis.call('ZADD', p .. 'leases', now + tonumber(ARGV[3]), id)
return {1, tonumber(id), prev, redis.call('HMGET', k, 'task_id', 'audio_id', 'name', 'out', 'state', 'sep', 'midi',
                                           'error', 'stage', 'attempts', 'ref', 'owner', 'type', 'stem', 'given')}
)lua";

/// ARGV: P, id, claim token, kind, stage ('separation'/'midi'), value (task id, intent's callback
/// reference, or failed stage), error, lease ms. Returns {code, state}: code 0 applied (state = the new one),
/// -1 another worker owns the track, -2 no such track, -3 the state does not allow it, -4 the
/// batch's state was lost (epoch gone or changed, or the track's hash gone).
/// kind 'adopt': value = separation task id, error = MIDI task id, stage = 'done' or '': task
/// ids known from this worker's own files; the track moves to done, or to the latest state they allow.
/// kind 'not_written' / 'result_lost': error = why; the claim is given up (owner '' for
/// not_written, so no renewal leases it again: it waits for the next open).
/// kind 'files_missing' (no claim needed): a done track whose files are gone goes to
/// not_written and is claimable at once; error = why.
inline constexpr const char* update = R"lua(
local id, token, kind, stage = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local k = tkey(id)
if lost() then return {-4, 'epoch'} end
if redis.call('EXISTS', k) == 0 then return {-4, 'track'} end
local state = redis.call('HGET', k, 'state')
local mine = redis.call('HGET', k, 'owner') == token
local sep = stage == 'separation'
local lease = tonumber(ARGV[8])
if kind == 'files_missing' then
  if state ~= 'done' then return {-3, state} end
  set_state(id, state, 'not_written')
  redis.call('HSET', k, 'error', ARGV[7], 'stage', 'output', 'owner', '')
  if not leased(id) then redis.call('ZADD', p .. 'pending', id, id) end
  return {0, 'not_written'}
end
if kind == 'task_id' then
  -- A task id KIE gave is recorded even when the claim was lost meanwhile: whoever holds the
  -- track then resumes it instead of paying again.
  local field = sep and 'sep' or 'midi'
  local intent = sep and 'separation_intent' or 'midi_intent'
  local to = sep and 'separating' or 'transcribing'
  local cur = redis.call('HGET', k, field)
  if cur ~= '' and cur ~= ARGV[6] then return {-3, state} end
  if cur == '' then redis.call('HSET', k, field, ARGV[6]) end
  if state == intent or (state == 'outcome_unknown' and redis.call('HGET', k, 'stage') == stage) then
    local was_final = final(state)
    set_state(id, state, to)
    redis.call('HSET', k, 'error', '', 'stage', '')
    if was_final and not mine then redis.call('ZADD', p .. 'pending', id, id) end
    state = to
  end
  if not mine then return {-1, state} end
  if state ~= to then return {-3, state} end
  if redis.call('ZSCORE', p .. 'leases', id) == false then redis.call('ZADD', p .. 'leases', now_ms() + lease, id) end
  return {0, to}
end
if not mine then return {-1, state} end
if kind == 'intent' then
  local from = sep and 'pending' or 'separating'
  local to = sep and 'separation_intent' or 'midi_intent'
  if state == from then
    set_state(id, state, to)
    redis.call('HINCRBY', k, 'attempts', 1)
    redis.call('HSET', k, 'ref', ARGV[6])
  elseif state ~= to then
    return {-3, state}
  end
  -- A paid POST starts with a full lease.
  redis.call('ZADD', p .. 'leases', now_ms() + lease, id)
  return {0, to}
elseif kind == 'done' then
  if state == 'transcribing' or state == 'not_written' then set_state(id, state, 'done') elseif state ~= 'done' then return {-3, state} end
  redis.call('ZREM', p .. 'leases', id)
  return {0, 'done'}
elseif kind == 'failed' then
  if state == 'done' then return {-3, state} end
  set_state(id, state, 'failed')
  redis.call('HSET', k, 'error', ARGV[7], 'stage', ARGV[6])
  redis.call('ZREM', p .. 'leases', id)
  return {0, 'failed'}
elseif kind == 'outcome_unknown' then
  if state ~= 'outcome_unknown' then
    if state ~= 'separation_intent' and state ~= 'midi_intent' then return {-3, state} end
    redis.call('HSET', k, 'error', ARGV[7], 'stage', state == 'separation_intent' and 'separation' or 'midi')
    set_state(id, state, 'outcome_unknown')
  end
  redis.call('ZREM', p .. 'leases', id)
  return {0, 'outcome_unknown'}
elseif kind == 'not_written' then
  if state ~= 'transcribing' and state ~= 'not_written' and state ~= 'done' then return {-3, state} end
  set_state(id, state, 'not_written')
  redis.call('HSET', k, 'error', ARGV[7], 'stage', 'output', 'owner', '')
  redis.call('ZREM', p .. 'leases', id)
  return {0, 'not_written'}
elseif kind == 'result_lost' then
  if state ~= 'not_written' and state ~= 'result_lost' then return {-3, state} end
  set_state(id, state, 'result_lost')
  redis.call('HSET', k, 'error', ARGV[7], 'stage', 'output')
  redis.call('ZREM', p .. 'leases', id)
  return {0, 'result_lost'}
elseif kind == 'requeue' then
  if state == 'result_lost' then
    local given = redis.call('HGET', k, 'given') or ''
    redis.call('HSET', k, 'midi', '', 'sep', given)
    set_state(id, state, given == '' and 'pending' or 'separating')
    redis.call('HSET', k, 'error', '', 'stage', '')
    state = given == '' and 'pending' or 'separating'
  elseif state == 'failed' or state == 'outcome_unknown' then
    local to = resumable(k)
    set_state(id, state, to)
    redis.call('HSET', k, 'error', '', 'stage', '')
    state = to
  elseif state == 'done' then
    return {-3, state}
  end
  redis.call('ZADD', p .. 'leases', now_ms() + lease, id)
  return {0, state}
elseif kind == 'adopt' then
  if state == 'done' then return {-3, state} end
  local given = {{'sep', ARGV[6]}, {'midi', ARGV[7]}}
  for _, f in ipairs(given) do
    local cur = redis.call('HGET', k, f[1])
    if f[2] ~= '' and cur ~= '' and cur ~= f[2] then return {-3, state} end
  end
  for _, f in ipairs(given) do
    if f[2] ~= '' then redis.call('HSET', k, f[1], f[2]) end
  end
  local to = stage == 'done' and 'done' or resumable(k)
  set_state(id, state, to)
  redis.call('HSET', k, 'error', '', 'stage', '')
  if to == 'done' then redis.call('ZREM', p .. 'leases', id) end
  return {0, to}
elseif kind == 'release' then
  redis.call('HSET', k, 'owner', '')
  redis.call('ZREM', p .. 'leases', id)
  if not final(state) then redis.call('ZADD', p .. 'pending', id, id) end
  return {0, state}
end
return redis.error_reply('unknown change ' .. kind)
)lua";

/// ARGV: P, lease ms, then (id, claim token) pairs. Extends the leases still held by those
/// tokens; returns {0, ids that are not (taken over, or already final)...}, or {-4} when the
/// batch's state was lost (epoch gone or changed), {-4, id} when a held track's hash is gone.
inline constexpr const char* renew = R"lua(
if lost() then return {-4} end
local until_ms = now_ms() + tonumber(ARGV[2])
local gone = {0}
for i = 3, n, 2 do
  local k = tkey(ARGV[i])
  local s = redis.call('HGET', k, 'state')
  if not s then return {-4, tonumber(ARGV[i])} end
  if not final(s) and redis.call('HGET', k, 'owner') == ARGV[i + 1] then
    redis.call('ZADD', p .. 'leases', until_ms, ARGV[i])
  else
    gone[#gone + 1] = tonumber(ARGV[i])
  end
end
return gone
)lua";

/// ARGV: P. Returns {-4} when the batch's state was lost, else {0, HGETALL of the counts}.
inline constexpr const char* counts = R"lua(
if lost() then return {-4} end
return {0, redis.call('HGETALL', p .. 'counts')}
)lua";

/// ARGV: P, first id, last id. Returns {now, {id, lease expiry or '', fields...}...} for the
/// tracks in that range.
inline constexpr const char* entries = R"lua(
local out = {}
for id = tonumber(ARGV[2]), tonumber(ARGV[3]) do
  local k = tkey(id)
  if redis.call('EXISTS', k) == 1 then
    local lease = redis.call('ZSCORE', p .. 'leases', id) or ''
    local f = redis.call('HMGET', k, 'task_id', 'audio_id', 'name', 'out', 'state', 'sep', 'midi', 'error', 'stage',
                         'attempts', 'ref', 'owner', 'type', 'stem', 'given')
    out[#out + 1] = {id, lease, f}
  end
end
return {now_ms(), out}
)lua";

}  // namespace kiemidi::detail::redis_batch_scripts

#endif
