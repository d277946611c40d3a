// What every gateway's reservations in flight hold of each counter, kept in Redis apart from the counters
// themselves: Lua for RESERVE_LUA (which notes a reservation), SETTLE_LUA (which drops it) and RESTORE_LUA
// (which reads them), after the prelude.
//
// A rebuild from the ledger raises a counter to what the ledger shows. Before this index, it compared the
// counter with the ledger plus its own gateway's reservations in flight only: another gateway's
// reservations, in the counter but not in the ledger yet, hid usage the counter lacked, and once they
// settled below what they reserved the limit had that room again (a reload reaching two gateways one by one:
// 1,101 output tokens admitted on 1,000). With the index, the restore raises the counter's settled part,
// its figure less what the reservations in flight hold, to the ledger's. A call whose row is in the ledger
// while its reservation is still noted (its settlement has not landed) is held only beyond what the ledger
// has of it (src/ledger/held-in-ledger.ts).
//
// One hash per organization, `tg:{org}:held`: a field per reservation (its record key), whose value is
// "<expires at ms> <key length> <key> <amount> <where it went>:<window length ms> ...", one run per fixed or
// sliding window item (a token bucket drains what it holds, so its held part cannot be told this way: those
// stay counted by the gateway that made them). The window's length, because a key may hold windows of two
// lengths while a reload reaches the gateways one by one, and a 1-hour and a 2-hour window may start alike.
// Keys are length-prefixed (in bytes, as Lua's # counts) because a user id may hold any character. A field
// whose reservation was never settled (its gateway died) outlives its record by nothing: read past its
// expiry it is dropped, and while it lasts it only says its amount is held, not settled, which the counter
// still counts either way. Budget leases are not noted: a lease's slice is part used by calls already in
// the ledger, so counting all of it as held would count those calls twice.
/**
 * Past this many reservations in flight in one organization, a restore does not read its held index (each
 * restore script would hold Redis ~80 ms for 10,000 on a slow host): the counter is compared whole, as before
 * the index, and other gateways' calls in flight may hide usage again.
 */
export const MAX_HELD_READ = 10_000;

export const HELD_INDEX_LUA = `
local MAX_HELD_READ = ${MAX_HELD_READ}
-- Notes reservation \`field\`'s amounts in the organization's index: its first n KEYS, with \`amounts\` and
-- \`refs\` (where each went, as the record has it) per item. About one call in 64 (by Redis time) also
-- looks at 8 fields picked at random and drops those past their expiry, as Redis expires keys, so that a
-- busy organization's index does not keep dead gateways' reservations until it goes idle. pcall: a Redis
-- before 6.2, or a user whose ACL refuses HRANDFIELD, keeps them until a rebuild reads them.
local function noteHeld(index, field, n, specs, amounts, refs, now, ttl)
  local expires = now + ttl
  local parts = { num(expires) }
  for i = 1, n do
    if specs[i].alg ~= 'b' then
      local key = KEYS[i]
      parts[#parts + 1] = #key .. ' ' .. key .. ' ' .. num(amounts[i]) .. ' ' .. refs[i] .. ':' .. num(specs[i].len)
    end
  end
  if #parts == 1 then return end
  call('HSET', index, field, concat(parts, ' '))
  -- The index's life is only ever lengthened: another gateway's reservations may live longer (its
  -- reservation_ttl_ms). A second's slack saves most calls a PEXPIRE. pcall: PTTL is not among the commands
  -- the ACL check asks for (older releases did not need it); refused, it is set every time, as before.
  local left = redis.pcall('PTTL', index)
  if type(left) ~= 'number' or left < 0 or left < ttl + GRACE - 1000 then call('PEXPIRE', index, num(ttl + GRACE)) end
  if now % 64 == 0 then
    local v = redis.pcall('HRANDFIELD', index, 8, 'WITHVALUES')
    if type(v) == 'table' and not v.err then
      for j = 1, #v, 2 do
        if match(v[j + 1], '^(%S+)') + 0 <= now then call('HDEL', index, v[j]) end
      end
    end
  end
end

-- A length-prefixed string at \`at\` in text ("<length> <text>"): the string and where what follows it starts.
local function prefixed(text, at)
  local stop = string.find(text, ' ', at, true)
  local length = string.sub(text, at, stop - 1) + 0
  return string.sub(text, stop + 1, stop + length), stop + length + 2
end

-- RESTORE_LUA's "<field> <key> <amount> ..." (field and key length-prefixed): what the ledger already counts
-- of a call whose reservation is still noted, as { [field .. '\\n' .. key] = amount }.
local function readCounted(text)
  local counted = {}
  local at = 1
  while at <= #text do
    local field, key
    field, at = prefixed(text, at)
    key, at = prefixed(text, at)
    local amount = match(text, '^(%S+)', at)
    counted[field .. '\\n' .. key] = amount + 0
    at = at + #amount + 1
  end
  return counted
end

-- Per counter key, the amounts the index holds, where each went and in a window of what length:
-- { key = { amount, ref, length, amount, ref, length, ... } }, less what \`counted\` (readCounted) says the
-- ledger already has of each call: below zero for a call that used more than it reserved, whose settlement
-- will add the rest. Fields past their expiry are dropped as they are read. Nil when the index holds more
-- than MAX_HELD_READ: reading it costs ~8 us per reservation on a slow host, in every restore script.
-- pcall: HLEN is not among the commands the ACL check asks for (older releases did not need it), so a
-- user refused it reads the index whatever its size.
local function heldByKey(index, now, counted)
  local size = redis.pcall('HLEN', index)
  if type(size) == 'number' and size > MAX_HELD_READ then return nil end
  local held = {}
  local v = call('HGETALL', index)
  for j = 1, #v, 2 do
    local text = v[j + 1]
    local stop = string.find(text, ' ', 1, true)
    if stop == nil or string.sub(text, 1, stop - 1) + 0 <= now then
      call('HDEL', index, v[j])
    else
      local at = stop + 1
      while at <= #text do
        local key
        key, at = prefixed(text, at)
        local amount, place = match(text, '^(%S+) (%S+)', at)
        local ref, length = match(place, '^([^:]+):?(%S*)$')
        local list = held[key]
        if not list then list = {}; held[key] = list end
        list[#list + 1] = amount - (counted[v[j] .. '\\n' .. key] or 0)
        list[#list + 1] = ref + 0
        -- An entry without the length (written before it was noted, 2026-12-06) fits any.
        list[#list + 1] = tonumber(length) or false
        at = at + #amount + #place + 2
      end
    end
  end
  return held
end

-- What of a counter's usage now the index says is held: the amounts placed in the window (or slots) still
-- counted, in a window of the counter's length, at most the usage itself (a reservation from a window that
-- has ended is not in it).
local function heldNow(held, key, s, now)
  local list = held[key]
  if not list then return 0 end
  local sum = 0
  if s.alg == 'f' then
    local start = bounds(s, now)
    for j = 1, #list, 3 do
      if list[j + 1] == start and (list[j + 2] == s.len or list[j + 2] == false) then sum = sum + list[j] end
    end
  elseif s.alg == 's' then
    local cur = slotOf(s, now)
    for j = 1, #list, 3 do
      local ref = list[j + 1]
      if ref <= cur and cur - ref <= SLOTS and (list[j + 2] == s.len or list[j + 2] == false) then sum = sum + list[j] end
    end
  end
  return mmin(sum, usedNow(key, s, now))
end
`;
