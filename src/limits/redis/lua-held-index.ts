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
// "<expires at ms> <key length> <key> <amount> <where it went> ...", one triple per fixed or sliding window
// item (a token bucket drains what it holds, so its held part cannot be told this way: those stay counted by
// the gateway that made them). Keys are length-prefixed because a user id may hold any character. A field
// whose reservation was never settled (its gateway died) outlives its record by nothing: read past its
// expiry it is dropped, and while it lasts it only says its amount is held, not settled, which the counter
// still counts either way. Budget leases are not noted: a lease's slice is part used by calls already in
// the ledger, so counting all of it as held would count those calls twice.
export const HELD_INDEX_LUA = `
-- Notes reservation \`field\`'s amounts in the organization's index: its first n KEYS, with \`amounts\` and
-- \`refs\` (where each went, as the record has it) per item. Every ~1,000th call (by Redis time) also
-- drops fields past their expiry, so a busy organization's index does not keep dead gateways'
-- reservations until it goes idle.
local function noteHeld(index, field, n, specs, amounts, refs, now, ttl)
  local expires = now + ttl
  local parts = { num(expires) }
  for i = 1, n do
    if specs[i].alg ~= 'b' then
      local key = KEYS[i]
      parts[#parts + 1] = #key .. ' ' .. key .. ' ' .. num(amounts[i]) .. ' ' .. refs[i]
    end
  end
  if #parts == 1 then return end
  call('HSET', index, field, concat(parts, ' '))
  call('PEXPIRE', index, num(ttl + GRACE))
  if now % 1024 == 0 then
    local v = call('HGETALL', index)
    for j = 1, #v, 2 do
      if match(v[j + 1], '^(%S+)') + 0 <= now then call('HDEL', index, v[j]) end
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

-- Per counter key, the amounts the index holds and where each went: { key = { amount, ref, amount, ref, ... } },
-- less what \`counted\` (readCounted) says the ledger already has of each call. Fields past their expiry are
-- dropped as they are read.
local function heldByKey(index, now, counted)
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
        local amount, ref = match(text, '^(%S+) (%S+)', at)
        local list = held[key]
        if not list then list = {}; held[key] = list end
        list[#list + 1] = mmax(0, amount - (counted[v[j] .. '\\n' .. key] or 0))
        list[#list + 1] = ref + 0
        at = at + #amount + #ref + 2
      end
    end
  end
  return held
end

-- What of a counter's usage now the index says is held: the amounts placed in the window (or slots) still
-- counted, at most the usage itself (a reservation from a window that has ended is not in it).
local function heldNow(held, key, s, now)
  local list = held[key]
  if not list then return 0 end
  local sum = 0
  if s.alg == 'f' then
    local start = bounds(s, now)
    for j = 1, #list, 2 do
      if list[j + 1] == start then sum = sum + list[j] end
    end
  elseif s.alg == 's' then
    local cur = slotOf(s, now)
    for j = 1, #list, 2 do
      local ref = list[j + 1]
      if ref <= cur and cur - ref <= SLOTS then sum = sum + list[j] end
    end
  end
  return mmin(sum, usedNow(key, s, now))
end
`;
