// Lua shared by every counter script: item specs, Redis TIME, window bounds and the three algorithms,
// mirroring MemoryCounterStore (same counters, same float arithmetic, same edge rules).
//
// An item spec is one ARGV string (built and cached by item-args.ts, since ARGV count is what costs most
// on both sides): "<alg> <max> <w input> <w output> <w request> <shadow 1|0> <length ms> <window slot>",
// alg 'f' fixed window, 's' sliding window, 'b' token bucket. Window slot 0: Lua computes fixed windows
// from the length; k > 0: the k-th entry of the window table, an ARGV string of four edges per slot (the
// starts of the previous, current and next window and the end of the next, computed by the instance for
// calendar days/months and whole-day windows, which need the time zone database).
//
// Keys: fixed window  -> hash {s = window start ms, u = used, ...}: see lua-fixed-window-fields.ts
//       sliding window -> hash {<slot epoch> = used in that slot, -1 = the window length ms the epochs count
//                         in}, slot = length / SLIDING_SLOTS (a key without -1: the length it is read with;
//                         older gateways read -1 as a slot long passed, and drop it)
//       token bucket   -> hash {u = used at t, t = ms, a = all ever added, g = all ever given back,
//                         c = when the key was created (ms)}, draining at max per length

import { SLIDING_SLOTS } from '../windows.js';
import { FIXED_WINDOW_FIELDS_LUA } from './lua-fixed-window-fields.js';

/** Extra time a counter key outlives the window it counts, so a late settlement still finds it. */
export const KEY_GRACE_MS = 60_000;

export const LUA_PRELUDE = `
local SLOTS = ${SLIDING_SLOTS}
local GRACE = ${KEY_GRACE_MS}
-- Locals, not globals: each global read is a table lookup, and scripts do thousands per second.
local tonumber, tostring, pairs, ipairs = tonumber, tostring, pairs, ipairs
local floor, ceil, mmax, mmin = math.floor, math.ceil, math.max, math.min
local format, match, gmatch, concat = string.format, string.match, string.gmatch, table.concat
local call = redis.call
-- Text known to be a number is read with \`x + 0\` rather than tonumber(x): Lua 5.1's tonumber is a C call
-- that runs strtod twice (lua_isnumber, then lua_tonumber), arithmetic coerces the text with one strtod,
-- and a reservation reads ~80 numbers (a full sliding window alone is 42). The same conversion, so the
-- same values; tonumber stays wherever the text may be missing or empty.

-- Integers as plain digits; anything else with 17 significant digits, which round-trip a double exactly.
-- '%d' rather than tostring: tostring formats through '%.14g', which costs twice as much, and scripts
-- format some 30 numbers per reservation (-0 becomes '0', which reads back as the same number).
local function num(x)
  if x % 1 == 0 and x > -1e14 and x < 1e14 then return format('%d', x) end
  return format('%.17g', x)
end

-- For replies: Redis turns a Lua number into an integer reply, exact for whole numbers; others go as text.
local function reply(x)
  if x % 1 == 0 and x > -1e15 and x < 1e15 then return x end
  return format('%.17g', x)
end

-- The script's time, once read: every script reads it before it loads a counter (load re-buckets a sliding
-- window kept in another length as of it).
local scriptNow = 0

-- Redis TIME in ms, so instances with skewed clocks agree; tests may pass a fixed time instead.
local function clock(override)
  if override ~= '' then
    scriptNow = override + 0
  else
    local t = call('TIME')
    scriptNow = t[1] * 1000 + floor(t[2] / 1000)
  end
  return scriptNow
end

-- windows.ts rebucketSlots: slots numbered in units of \`from\` ms, numbered again in units of \`to\`, each
-- slot's usage placed at its last moment (or now, if sooner); slots that left the window are dropped.
local function rebucket(slots, from, to, now)
  local cur = floor(now / to)
  local out = {}
  for e, c in pairs(slots) do
    if c > 0 then
      local epoch = floor(mmin((e + 1) * from - 1, now) / to)
      if cur - epoch <= SLOTS then out[epoch] = (out[epoch] or 0) + c end
    end
  end
  return out
end

local windows = {}
local function readWindows(text)
  local k = 0
  for p, c, n, e in gmatch(text, '(%S+) (%S+) (%S+) (%S+)') do
    k = k + 1
    windows[k] = { p + 0, c + 0, n + 0, e + 0 }
  end
end

-- Spec parsing is a large part of a reservation's own Lua work, strtod its dearest step: the weights and
-- slots, almost always 0 or 1, are looked up instead, and the one-letter fields matched as single characters.
local SMALL = { ['0'] = 0, ['1'] = 1 }

-- Parsed once per script call: a batch of settlements repeats the same items' specs.
local parsedSpecs = {}
local function spec(text)
  local parsed = parsedSpecs[text]
  if parsed then return parsed end
  local alg, max, wi, wo, wr, shadow, len, slot, priced = match(text, '^(.) (%S+) (%S+) (%S+) (%S+) (.) (%S+) (%S+) (.)$')
  parsed = {
    alg = alg, max = max + 0, len = len + 0, shadow = shadow == '1', priced = priced == '1',
    wi = SMALL[wi] or wi + 0, wo = SMALL[wo] or wo + 0, wr = SMALL[wr] or wr + 0,
    b = windows[SMALL[slot] or slot + 0],
    -- Calendar (and whole-day) windows' edges come from the instance; settlements send none.
    edges = slot ~= '0',
  }
  parsedSpecs[text] = parsed
  return parsed
end

-- admission.ts amountFor, in the same order: a money item's weights scaled by the call's price factors.
local function amount(s, input, output, request, fi, fo)
  if s.priced then return s.wi * input * fi + s.wo * output * fo + s.wr * request end
  return s.wi * input + s.wo * output + s.wr * request
end

-- The fixed window containing t: from the length, or the instance's candidate that contains t (nil if none).
local function bounds(s, t)
  if not s.b then
    local start = floor(t / s.len) * s.len
    return start, start + s.len
  end
  local b = s.b
  for i = 1, 3 do
    if t >= b[i] and t < b[i + 1] then return b[i], b[i + 1] end
  end
  return nil
end

${FIXED_WINDOW_FIELDS_LUA}
-- Counter state, read once per key per script and written back after every change.
local states = {}
local function load(key, s)
  local st = states[key]
  if st then return st end
  if s.alg == 'f' then
    st = loadFixed(key, s)
  elseif s.alg == 'b' then
    local v = call('HMGET', key, 'u', 't', 'a', 'g', 'c')
    local used, at, added, back, created = v[1], v[2], v[3], v[4], v[5]
    st = { u = used and used + 0 or nil, t = at and at + 0 or nil, a = added and added + 0 or 0, g = back and back + 0 or 0, c = created and created + 0 or nil }
  else
    local v = call('HGETALL', key)
    local slots, length = {}, nil
    for i = 1, #v, 2 do
      if v[i] == '-1' then length = v[i + 1] + 0 else slots[v[i] + 0] = v[i + 1] + 0 end
    end
    -- Kept in another window length (a reload changed it): numbered again in this one and written so,
    -- whatever the script (a peek too), so the usage is placed as of the first read in the new length.
    if length and length ~= s.len then
      slots = rebucket(slots, length / SLOTS, s.len / SLOTS, scriptNow)
      local fields = { '-1', num(s.len) }
      for e, u in pairs(slots) do
        fields[#fields + 1] = num(e)
        fields[#fields + 1] = num(u)
      end
      call('DEL', key)
      call('HSET', key, unpack(fields))
      call('PEXPIRE', key, num(mmax(1, ceil((floor(scriptNow / (s.len / SLOTS)) + SLOTS + 1) * (s.len / SLOTS) - scriptNow)) + GRACE))
    end
    st = { slots = slots }
  end
  states[key] = st
  return st
end

local function slotOf(s, t) return floor(t / (s.len / SLOTS)) end

local function usedNow(key, s, now)
  local st = load(key, s)
  if s.alg == 'f' then
    if st.s ~= nil and st.s == bounds(s, now) then return st.u end
    return 0
  elseif s.alg == 's' then
    local cur = slotOf(s, now)
    local sum = 0
    for e, c in pairs(st.slots) do
      if cur - e <= SLOTS then sum = sum + c end
    end
    return sum
  end
  if st.u == nil then return 0 end
  return mmax(0, st.u - ((now - st.t) * s.max) / s.len)
end

local function writeBucket(key, s, st)
  -- A key written first (or again, after it expired) notes when: reservations older than that find nothing of theirs in it.
  if not st.c then st.c = st.t end
  call('HSET', key, 'u', num(st.u), 't', num(st.t), 'a', num(st.a), 'g', num(st.g), 'c', num(st.c))
  local drain = s.len
  if s.max > 0 then drain = ceil((st.u * s.len) / s.max) end
  call('PEXPIRE', key, num(mmax(1, drain) + GRACE))
end

-- Adds to one slot (or corrects it); slots that left the window are dropped as they are passed. A new
-- slot is the newest, so only then does the key's lifetime need extending.
local function addToSlot(key, s, st, epoch, delta, now)
  local c = st.slots[epoch]
  if c ~= nil then
    st.slots[epoch] = mmax(0, c + delta)
    call('HSET', key, num(epoch), num(st.slots[epoch]))
  elseif delta > 0 then
    st.slots[epoch] = delta
    -- A new slot notes the length its epoch counts in (a reload may change the window's).
    call('HSET', key, num(epoch), num(delta), '-1', num(s.len))
  else
    return
  end
  local cur = slotOf(s, now)
  for e in pairs(st.slots) do
    if cur - e > SLOTS then
      call('HDEL', key, num(e))
      st.slots[e] = nil
    end
  end
  if c == nil then
    call('PEXPIRE', key, num(mmax(1, ceil((cur + SLOTS + 1) * (s.len / SLOTS) - now)) + GRACE))
  end
end

-- Adds an amount now; returns where it went (window start, slot epoch, or a bucket's level before it).
local function add(key, s, now, value)
  local st = load(key, s)
  if s.alg == 'f' then
    local start, stop = bounds(s, now)
    if st.s == start then
      st.u = st.u + value
      writeFixed(key, s, st, st.fu, num(st.u))
    else
      st.s = start
      st.u = value
      -- The key's life is only ever lengthened: another window in the same key may end later.
      local keep = ceil(stop) + GRACE
      if st.e == nil or keep > st.e then
        st.e = keep
        writeFixed(key, s, st, st.fs, num(start), st.fu, num(st.u), 'e', num(keep))
        call('PEXPIRE', key, num(mmax(1, keep - now)))
      else
        writeFixed(key, s, st, st.fs, num(start), st.fu, num(st.u))
      end
    end
    return start
  elseif s.alg == 's' then
    local epoch = slotOf(s, now)
    addToSlot(key, s, st, epoch, value, now)
    return epoch
  end
  local before = usedNow(key, s, now)
  st.u = before + value
  st.a = st.a + value
  st.t = now
  writeBucket(key, s, st)
  return before
end

-- Corrects an earlier placement; a fixed window that has already passed is left alone.
local function adjust(key, s, ref, delta, now)
  local st = load(key, s)
  if s.alg == 'f' then
    if st.s ~= ref then toPlaceOf(key, s, st, ref) end
    if st.s ~= nil and st.s == ref then
      st.u = mmax(0, st.u + delta)
      writeFixed(key, s, st, st.fu, num(st.u))
    end
  elseif s.alg == 's' then
    -- A slot after the current one was numbered in another length (reserved before a reload changed the
    -- window): where it lies now is unknown, so it is left as reserved.
    if ref <= slotOf(s, now) then addToSlot(key, s, st, ref, delta, now) end
  else
    local before = usedNow(key, s, now)
    st.u = mmax(0, before + delta)
    if delta > 0 then st.a = st.a + delta else st.g = st.g + (before - st.u) end
    st.t = now
    writeBucket(key, s, st)
  end
end

-- What is left of an amount put on a bucket at level before, once drained has gone (oldest first).
local function undrained(amount, before, drained)
  return mmin(amount, mmax(0, before + amount - drained))
end

-- MemoryCounterStore's bucketCorrection: what settling a bucket reservation (placed on top of level before,
-- at time at, with marks ma and mg: the bucket's a and g right after it went in) changes the level by. A
-- refund gives back at most what is surely left of it: the level, less all added since, less what may
-- still be below it. Without marks (a record made by an older gateway), as before them.
local function bucketCorrection(key, s, before, reserved, actual, at, now, ma, mg)
  local drained = mmax(0, now - at) * s.max / s.len
  local left = undrained(reserved, before, drained)
  if actual >= reserved or not ma then return undrained(actual, before, drained) - left end
  local st = load(key, s)
  -- A key created after the reservation: the one it went into expired, all of it drained.
  if st.c and st.c > at then return 0 end
  local below = mmax(0, before - drained - (st.g - mg))
  local surelyLeft = mmin(left, mmax(0, usedNow(key, s, now) - (st.a - ma) - below))
  return -mmin(surelyLeft, reserved - actual)
end

-- What the instance needs besides usage to work out the reset time: a sliding window's oldest counted slot.
local function oldestSlot(key, s, now)
  if s.alg ~= 's' then return '' end
  local st = load(key, s)
  local cur = slotOf(s, now)
  local oldest = cur
  for e, c in pairs(st.slots) do
    if cur - e <= SLOTS and c > 0 and e < oldest then oldest = e end
  end
  return num(oldest)
end

-- Refusals only (never on the admitted path): a blocked sliding window's counted slots, oldest first, as
-- "<epoch> <count> <epoch> <count> ...", the slots MemoryCounterStore.leaving() lists (counted, count > 0);
-- '' for other algorithms or an empty window. The instance turns each epoch into the time it leaves.
local function countedSlots(key, s, now)
  if s.alg ~= 's' then return '' end
  local st = load(key, s)
  local cur = slotOf(s, now)
  local epochs = {}
  for e, c in pairs(st.slots) do
    if cur - e <= SLOTS and c > 0 then epochs[#epochs + 1] = e end
  end
  table.sort(epochs)
  local parts = {}
  for j, e in ipairs(epochs) do
    parts[2 * j - 1] = num(e)
    parts[2 * j] = num(st.slots[e])
  end
  return concat(parts, ' ')
end

-- Every fixed window the instance offered must contain Redis time; otherwise the instance clock is off by
-- more than a window and the caller retries with candidates around the returned time.
local function checkBounds(specs, now)
  for _, s in ipairs(specs) do
    if s.alg == 'f' and bounds(s, now) == nil then return false end
  end
  return true
end
`;
