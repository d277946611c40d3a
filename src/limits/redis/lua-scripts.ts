// The counter scripts. Each runs atomically on the node owning the organization's hash tag, so a whole
// reservation (every limit, every algorithm) is one EVALSHA, and a settlement one more.
// Every script reads all it needs and validates before its first write: Redis does not roll back a
// script that fails half way.
import { HELD_INDEX_LUA } from './lua-held-index.js';
import { LUA_PRELUDE } from './lua-prelude.js';

/**
 * How long a cancelled reservation's record stays as a tombstone: longer than any client retry of the
 * reservation can arrive late (ioredis re-sends a command after a failover, a redirection or a reconnect).
 */
export const TOMBSTONE_MS = 60_000;

/**
 * KEYS: item keys..., reservation record, held index (lua-held-index.ts)[, presence marker, last primary's id, admitted count]. ARGV: time override, input, output, clamp
 * ('1'/'0'), minOutput, record TTL ms, window table, the input and output price factors, one spec per
 * item, then the highest reservation count this instance has seen ('' for none), then the replication id
 * (`master_replid`) of the node that answered its last reservation of this organization ('' for none),
 * then '1' to note the reservation in the held index ('0': a budget lease).
 * Returns {ok, output, now, blocked, shadowBlocked, "count replid", used1, oldestSlot1, ..., usedN, oldestSlotN} (lists as space-separated 0-based
 * indexes); on a refusal only, followed by one field per blocked item, in the order of `blocked`: a sliding
 * window's counted slots, oldest first, "<epoch> <count> ..." ('' for other algorithms, or no slots), from
 * which the instance works out `LimitState.leaving`. An admitted reply is exactly 6 + 2 * items long, as
 * before: the extra fields (added with `leaving`) cost nothing on the hot path. Scripts go by SHA, so
 * one gateway never reads another version's replies; the reader still treats missing fields as unknown
 * (no `leaving`: the Retry-After falls back to the oldest slot). Or the error
 * `TGSKEW <now>`, or `TGDONE` when the record exists already (the same reservation sent twice, or a
 * cancelled one arriving after its cancel: see SETTLE_LUA), or `TGLOST` when a presence marker is given
 * and missing: Redis lost the organization's counters (flushed, restarted without persistence), and
 * nothing may be admitted against empty counters. The admitted count (the last key) counts the organization's
 * admitted reservations (the sixth reply field; '' without a marker), and the last ARGV but one is the highest count this
 * instance has seen: a lower one means Redis went back in time (a replica promoted before it had the
 * latest writes), which is `TGLOST` too. A node whose `master_replid2` is the replication id given (a
 * replica of that node, promoted since: a cluster failover, which the instance does not see itself)
 * answers `TGFAILOVER <its replid>`: it may lack another instance's latest writes, which no count of this
 * one shows, so the instance rebuilds every counter once, as after a Sentinel failover. The id of the node
 * that last admitted one of the organization's reservations is kept in Redis too (the last key), so an
 * instance that has not reserved for the organization since it started notices such a failover as well.
 * The decision is admission.ts's `admit()`, line for line. The record keeps the granted output, where
 * each amount went (a bucket's: its level before) and, negated, the time reserved.
 */
export const RESERVE_LUA = `${LUA_PRELUDE}${HELD_INDEX_LUA}
local n = #ARGV - 12
local seq, replid, stored
if #KEYS > n + 2 then
  -- A node promoted from replica of the one this instance last reserved on names that one's id as its
  -- replid2: it may lack the latest writes, any instance's. A slot moved to another master is no failover.
  -- pcall: a Redis that refuses INFO in scripts (renamed or disabled) keeps the other two checks only.
  local info = redis.pcall('INFO', 'replication')
  if type(info) ~= 'string' then info = '' end
  -- Replication ids are 40 characters. Plain finds: a pattern match over the section cost twice the INFO
  -- itself (4.9 against 2.5 us per call).
  local function replicationId(field)
    local at = string.find(info, field .. ':', 1, true)
    return at and string.sub(info, at + #field + 1, at + #field + 40) or ''
  end
  replid = replicationId('master_replid')
  local replid2 = replicationId('master_replid2')
  local function promotedFrom(id) return id and id ~= '' and id ~= replid and replid2 == id end
  stored = call('GET', KEYS[n + 4])
  local expected = ARGV[11 + n]
  if promotedFrom(expected) or promotedFrom(stored) then return redis.error_reply('TGFAILOVER ' .. replid) end
  if call('EXISTS', KEYS[n + 3]) == 0 then return redis.error_reply('TGLOST the counters are gone') end
  -- A key of its own, not the marker's value: older releases set the marker to 1 at their start.
  seq = tonumber(call('GET', KEYS[n + 5])) or 0
  local seen = tonumber(ARGV[10 + n])
  if seen and seq < seen then return redis.error_reply('TGLOST the counters went back in time') end
end
if call('EXISTS', KEYS[n + 1]) == 1 then return redis.error_reply('TGDONE the reservation was made or cancelled already') end
local now = clock(ARGV[1])
local input, output, clamp, minOutput = ARGV[2] + 0, ARGV[3] + 0, ARGV[4] == '1', ARGV[5] + 0
local fi, fo = ARGV[8] + 0, ARGV[9] + 0
readWindows(ARGV[7])
local specs, used = {}, {}
for i = 1, n do specs[i] = spec(ARGV[9 + i]) end
if not checkBounds(specs, now) then return redis.error_reply('TGSKEW ' .. num(now)) end
for i = 1, n do used[i] = usedNow(KEYS[i], specs[i], now) end

local granted, blocked, shadowBlocked = output, {}, {}
for i = 1, n do
  local s = specs[i]
  local room = s.max - used[i] - amount(s, input, 0, 1, fi, fo)
  local perToken = s.wo
  if s.priced then perToken = s.wo * fo end
  local allows
  if perToken > 0 then allows = floor(room / perToken + 1e-9) elseif room >= 0 then allows = math.huge else allows = -1 end
  if allows < output then
    local refuses = (not clamp) or allows < minOutput or allows < 0
    -- A shadow limit reports the calls it would refuse, not those it would only clamp; it never clamps.
    if s.shadow then
      if refuses then shadowBlocked[#shadowBlocked + 1] = i - 1 end
    elseif refuses then
      blocked[#blocked + 1] = i - 1
    else
      granted = mmin(granted, allows)
    end
  end
end

local out = { '0', num(granted), num(now), concat(blocked, ' '), concat(shadowBlocked, ' '), seq and (num(seq) .. ' ' .. replid) or '' }
if #blocked > 0 then
  -- Refused, nothing written. The same per-item fields as below, then (refusals only) what each blocked
  -- sliding window still counts; the admitted path below runs exactly as it did before these fields.
  for i = 1, n do
    out[#out + 1] = reply(used[i])
    out[#out + 1] = oldestSlot(KEYS[i], specs[i], now)
  end
  for _, b in ipairs(blocked) do out[#out + 1] = countedSlots(KEYS[b + 1], specs[b + 1], now) end
  return out
end
out[1] = '1'
if seq then
  out[6] = num(call('INCR', KEYS[n + 5])) .. ' ' .. replid
  if replid ~= '' and stored ~= replid then call('SET', KEYS[n + 4], replid) end
end
local record = { num(granted) }
local marks
local amounts = {}
for i = 1, n do
  local a = amount(specs[i], input, granted, 1, fi, fo)
  amounts[i] = a
  record[i + 1] = num(add(KEYS[i], specs[i], now, a))
  used[i] = used[i] + a
  if specs[i].alg == 'b' then
    -- A bucket's added and given-back totals right after this amount went in (MemoryCounterStore's marks).
    marks = marks or {}
    local st = states[KEYS[i]]
    marks[2 * i - 1], marks[2 * i] = num(st.a), num(st.g)
  end
end
-- When it was reserved, as a negative number (where amounts went are never negative): what a bucket has
-- drained of it by its settlement depends on it. Then, with a bucket among the items only, two marks per
-- item ('0 0' for others). After the amounts, so a gateway that predates them reads the record as before.
record[n + 2] = num(-now)
if marks then
  for i = 1, n do
    record[n + 1 + 2 * i] = marks[2 * i - 1] or '0'
    record[n + 2 + 2 * i] = marks[2 * i] or '0'
  end
end
call('SET', KEYS[n + 1], concat(record, ' '), 'PX', ARGV[6])
if ARGV[12 + n] == '1' then
  local refs = {}
  for i = 1, n do refs[i] = record[i + 1] end
  noteHeld(KEYS[n + 2], KEYS[n + 1], n, specs, amounts, refs, now, ARGV[6] + 0)
end
for i = 1, n do
  out[#out + 1] = reply(used[i])
  out[#out + 1] = oldestSlot(KEYS[i], specs[i], now)
end
return out
`;

/**
 * Settles one or more reservations of one organization (an instance sends the settlements of one turn of
 * its event loop together). KEYS: per reservation its record, the organization's presence marker, its held
 * index (lua-held-index.ts), then the keys of its items whose amount may change. ARGV: time override, then
 * per reservation the number of those items, the real input, output and request count, the reserved input,
 * the price factors (input, output) reserved at and billed at, what the instance knows of the reservation
 * (below), then per item its spec and its 1-based position in the reservation.
 * Replaces each reserved amount with real usage in the window or slot it went to, and deletes the record.
 * Deletes the reservation's entry in the held index in every case.
 * The record holds the granted output, so a cancel whose reserve answer was lost is exact too. Without a
 * record, by what the instance knows:
 * - `u`, a reservation whose answer never came (this is its cancel): the reserve may still arrive, sent
 *   again by the client after a failover or a redirection, so a tombstone takes the record's place and
 *   the reserve refuses to count (TGDONE);
 * - `c`, a reservation Redis confirmed and whose record cannot have expired yet: Redis lost it, and the
 *   counters with it (a replica promoted before it had them): the presence marker goes too, so the next
 *   reservation rebuilds the organization's counters from the ledger (TGLOST) rather than hand out its
 *   budget again;
 * - `o`, an old one whose record may have expired: nothing (a retried settlement never double-counts).
 * Returns how many records were found.
 */
export const SETTLE_LUA = `${LUA_PRELUDE}
local now
local found, k, a = 0, 1, 2
while a <= #ARGV do
  local n = ARGV[a] + 0
  local record = call('GET', KEYS[k])
  -- Settled, cancelled or lost, the reservation is no longer in flight, whether its record is found or not.
  call('HDEL', KEYS[k + 2], KEYS[k])
  if record == 'x' then
    -- A tombstone: cancelled already, and kept until it expires.
  elseif record then
    call('DEL', KEYS[k])
    found = found + 1
    if n > 0 then
      now = now or clock(ARGV[1])
      local input, output, request, reservedInput = ARGV[a + 1] + 0, ARGV[a + 2] + 0, ARGV[a + 3] + 0, ARGV[a + 4] + 0
      local rfi, rfo, fi, fo = ARGV[a + 5] + 0, ARGV[a + 6] + 0, ARGV[a + 7] + 0, ARGV[a + 8] + 0
      local placed, at, marks = {}, nil, {}
      for v in gmatch(record, '%S+') do
        local x = v + 0
        if at then marks[#marks + 1] = x elseif x < 0 then at = -x else placed[#placed + 1] = x end
      end
      local granted = placed[1]
      for i = 1, n do
        local s = spec(ARGV[a + 8 + 2 * i])
        local pos = ARGV[a + 9 + 2 * i] + 0
        local ref = placed[1 + pos]
        local actual, reserved = amount(s, input, output, request, fi, fo), amount(s, reservedInput, granted, 1, rfi, rfo)
        local delta = actual - reserved
        -- A bucket drains oldest first: only what of the reservation is still in it can be given back, or
        -- the refund would erase usage admitted after it (MemoryCounterStore's bucketCorrection). A record
        -- without its time (made by an older gateway) is settled as before.
        if s.alg == 'b' and at then
          delta = bucketCorrection(KEYS[k + 2 + i], s, ref, reserved, actual, at, now, marks[2 * pos - 1], marks[2 * pos])
        end
        if delta ~= 0 then adjust(KEYS[k + 2 + i], s, ref, delta, now) end
      end
    end
  elseif ARGV[a + 9] == 'u' then
    call('SET', KEYS[k], 'x', 'PX', ${TOMBSTONE_MS})
  elseif ARGV[a + 9] == 'c' then
    call('DEL', KEYS[k + 1])
  end
  k = k + 3 + n
  a = a + 10 + 2 * n
end
return found
`;

/** KEYS: item keys. ARGV: time override, window table, then item specs. Returns {now, used1, oldestSlot1, ...} without writing. */
export const PEEK_LUA = `${LUA_PRELUDE}
local now = clock(ARGV[1])
readWindows(ARGV[2])
local specs = {}
for i = 1, #KEYS do specs[i] = spec(ARGV[2 + i]) end
if not checkBounds(specs, now) then return redis.error_reply('TGSKEW ' .. num(now)) end
local out = { num(now) }
for i = 1, #KEYS do
  out[#out + 1] = reply(usedNow(KEYS[i], specs[i], now))
  out[#out + 1] = oldestSlot(KEYS[i], specs[i], now)
end
return out
`;

/**
 * KEYS: item keys, the organization's held index. ARGV: time override, window table, then item specs.
 * Returns what the index says reservations in flight, any gateway's, hold of each item now
 * (lua-held-index.ts), for the audit.
 */
export const HELD_LUA = `${LUA_PRELUDE}${HELD_INDEX_LUA}
local now = clock(ARGV[1])
readWindows(ARGV[2])
local n = #KEYS - 1
local specs = {}
for i = 1, n do specs[i] = spec(ARGV[2 + i]) end
if not checkBounds(specs, now) then return redis.error_reply('TGSKEW ' .. num(now)) end
local held = heldByKey(KEYS[n + 1], now, {})
-- Too large to read (MAX_HELD_READ): nothing, and the instance counts its own.
if not held then return {} end
local out = {}
for i = 1, n do out[i] = reply(heldNow(held, KEYS[i], specs[i], now)) end
return out
`;

/**
 * KEYS: item keys[, the organization's held index (lua-held-index.ts)]. ARGV: time override, window table,
 * what the ledger counts of calls the index may hold (readCounted's format, '' for none), then per item its
 * spec and the usage to restore: a number (a fixed window's followed by the start of the window it was
 * counted in, which must be the current one, then " s" when it is settled usage), or for a sliding window
 * its slots as "<epoch> <usage> ...", after "k <total> " when the store kept its counters
 * (MemoryCounterStore.restore). Raises each counter (or slot) to at least that usage in the window
 * containing now (taking the larger value, so restoring twice, or from several instances at once, never
 * double-counts). Settled usage, and a kept total, are compared with the counter less what the held index
 * says reservations in flight hold of it, any gateway's, beyond what the ledger counts of them
 * (RestoreEntry.settled, .counted).
 */
export const RESTORE_LUA = `${LUA_PRELUDE}${HELD_INDEX_LUA}
local now = clock(ARGV[1])
readWindows(ARGV[2])
local n = (#ARGV - 3) / 2
local specs = {}
for i = 1, n do specs[i] = spec(ARGV[2 + 2 * i]) end
if not checkBounds(specs, now) then return redis.error_reply('TGSKEW ' .. num(now)) end
-- Nil when the index is too large to read (MAX_HELD_READ): settled usage is then compared with the whole
-- counter, at its whole figure (the instance's own calls in flight on top: RestoreEntry.wholeUsed).
local held = {}
if #KEYS > n then held = heldByKey(KEYS[n + 1], now, readCounted(ARGV[3])) end
local function settledPart(key, s) return usedNow(key, s, now) - (held and heldNow(held, key, s, now) or 0) end
for i = 1, n do
  local s, value = specs[i], ARGV[3 + 2 * i]
  if s.alg == 's' and string.find(value, ' ', 1, true) then
    local st = load(KEYS[i], s)
    local cur = slotOf(s, now)
    -- "k <total>[/<whole total>] ..." (RestoreEntry.kept, .wholeUsed): the store kept its counters, raised by
    -- what its total is short of that.
    local target, list = match(value, '^k (%S+) ?(.*)$')
    if target then
      local settledTotal, whole = match(target, '^(%S+)/(%S+)$')
      if settledTotal then target = held and settledTotal or whole end
    end
    local counted, gone = {}, 0
    for e, u in gmatch(list or value, '(%S+) (%S+)') do
      local epoch = tonumber(e)
      if epoch <= cur and cur - epoch <= SLOTS then counted[#counted + 1] = { epoch, tonumber(u) }
      elseif cur - epoch > SLOTS then gone = gone + tonumber(u) end
    end
    table.sort(counted, function(a, b) return a[1] > b[1] end)
    local kept, short = target ~= nil, math.huge
    -- Slots that left the window since the ledger was read are no longer in the total's window. What
    -- reservations in flight hold is not settled usage, which is what the total is.
    if kept then short = tonumber(target) - gone - settledPart(KEYS[i], s) end
    for _, slot in ipairs(counted) do
      if short <= 0 then break end
      local missing = mmin(short, slot[2] - (st.slots[slot[1]] or 0))
      if missing > 0 then
        addToSlot(KEYS[i], s, st, slot[1], missing, now)
        short = short - missing
      end
    end
    if kept and short > 0 then addToSlot(KEYS[i], s, st, cur, short, now) end
  else
    -- A fixed window's "<usage> <window start>[ s <whole usage>]" (RestoreEntry.windowStartMs, .settled,
    -- .wholeUsed): only into the window it was counted in; settled usage is compared with what of the
    -- counter is settled.
    local used, from, settled, whole = match(value, '^(%S+) (%S+) ?(s?) ?(%S*)$')
    if from == nil or (s.alg == 'f' and bounds(s, from + 0) == bounds(s, now)) then
      local missing
      if settled ~= 's' then missing = tonumber(used or value) - usedNow(KEYS[i], s, now)
      elseif held then missing = used - settledPart(KEYS[i], s)
      else missing = (whole ~= '' and whole or used) - usedNow(KEYS[i], s, now) end
      if missing > 0 then add(KEYS[i], s, now, missing) end
    end
  end
end
return 1
`;

/**
 * KEYS: item keys..., batch marker. ARGV: time override, marker TTL ms, window table, then per entry its
 * spec, the time the usage happened (ms) and the amount. Adds usage counted locally while the store was
 * unreachable into the windows it belongs to, once per batch (the marker makes a retried batch a no-op).
 */
export const RECONCILE_LUA = `${LUA_PRELUDE}
local n = #KEYS - 1
if call('SET', KEYS[n + 1], '1', 'NX', 'PX', ARGV[2]) == false then return 0 end
local now = clock(ARGV[1])
readWindows(ARGV[3])
for i = 1, n do
  local base = 1 + 3 * i
  local s = spec(ARGV[base])
  local at, value = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2])
  if s.alg == 'f' then
    -- Usage from a window that has ended no longer counts anywhere.
    local start = bounds(s, now)
    if start ~= nil and bounds(s, at) == start then add(KEYS[i], s, now, value) end
  elseif s.alg == 's' then
    local epoch = slotOf(s, at)
    if slotOf(s, now) - epoch <= SLOTS then addToSlot(KEYS[i], s, load(KEYS[i], s), epoch, value, now) end
  else
    -- What the bucket would have drained since then is gone already.
    local left = value - ((now - at) * s.max) / s.len
    if left > 0 then add(KEYS[i], s, now, left) end
  end
end
return 1
`;

/**
 * KEYS: an organization's loss key (`tg:{org}:lost`). ARGV: time override, how long to keep it (ms). Notes
 * the first time a loss of the organization's counters is noticed, by any instance, and returns the ms
 * since then (lease-wait.ts).
 */
export const LOST_AT_LUA = `${LUA_PRELUDE}
local now = clock(ARGV[1])
call('SET', KEYS[1], num(now), 'NX', 'PX', ARGV[2])
return reply(now - (tonumber(call('GET', KEYS[1])) or now))
`;

/**
 * KEYS: an organization's last primary's id (`tg:{<org>}:primary`: the hash tag takes the script to its
 * node). Without ARGV, returns the node's `master_replid` ('' when INFO is refused in scripts). With one,
 * the node's id before a rebuild after a failover read the ledger: deletes the key only when the node is
 * still that one. A node promoted since (a failover after the read, whose lost writes the rebuild may
 * miss) keeps the id it was promoted from, so reservations there are refused as TGFAILOVER and rebuild.
 */
export const LAST_PRIMARY_LUA = `
local info = redis.pcall('INFO', 'replication')
if type(info) ~= 'string' then return '' end
local at = string.find(info, 'master_replid:', 1, true)
local replid = at and string.sub(info, at + 14, at + 53) or ''
if #ARGV == 0 then return replid end
if replid ~= '' and replid == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
