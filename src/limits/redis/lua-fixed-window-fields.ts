// Which fields of a fixed-window counter key hold a window's start and usage: Lua for the prelude
// (lua-prelude.ts), after `bounds` and before the counter state it loads.
//
// The key is a hash {s = window start ms, u = used, l = the window length they count in, e = when the key may
// expire}, and {s<length>, u<length>} for another window (the length in ms). Two gateways whose configs give
// the limit different windows (a reload reaching one first) each keep their own, where one starting the
// shared fields afresh for its window erased the other's usage (1,200 admitted in an hour on 1,000). The
// shared fields belong to the window of the length noted in l that started at s, or to any once that one is
// over (or before one is noted: keys older gateways wrote, which read and write s and u alone).
export const FIXED_WINDOW_FIELDS_LUA = `
-- The start of the fixed window before the one containing t (nil when the instance's edges do not say).
local function previousStart(s, t)
  if not s.b then return floor(t / s.len) * s.len - s.len end
  local b = s.b
  for i = 2, 3 do
    if t >= b[i] and t < b[i + 1] then return b[i - 1] end
  end
  return nil
end

-- Whether a fixed window's shared fields (start, owner: as read, false when missing) are this window's:
-- no window noted itself there (keys older releases wrote), or one of this length whose start is this
-- window's or a window certainly over (at or before this one's previous start). A start in between is a
-- window of the same length aligned elsewhere (a calendar month and 30 days), which may still be counting.
local function sharedIsOwn(s, owner, start)
  if owner == false then return true end
  if owner + 0 ~= s.len then return false end
  -- Without the edges (a settlement), which of two alignments is whose cannot be told: adjust finds by start.
  if start == false or (s.edges and not s.b) then return true end
  start = start + 0
  if start == bounds(s, scriptNow) then return true end
  local previous = previousStart(s, scriptNow)
  return previous == nil or start <= previous
end

-- The fields a window of this length keeps apart from the shared ones.
local function ownFields(s)
  local length = num(s.len)
  return 's' .. length, 'u' .. length
end

-- A fixed window's state: its start and usage, the fields they are kept in (fs, fu), whether l names this
-- length already (noted), and when the key may expire (e), which one window must not bring forward for another.
local function loadFixed(key, s)
  local v = call('HMGET', key, 's', 'u', 'l', 'e') -- false when missing
  local keep = v[4] and v[4] + 0 or nil
  if sharedIsOwn(s, v[3], v[1]) then
    return { s = v[1] and v[1] + 0 or nil, u = v[2] and v[2] + 0 or 0, fs = 's', fu = 'u', noted = v[3] ~= false, e = keep }
  end
  -- Another window holds the shared fields: read this one's own (a second read only while they differ).
  local fs, fu = ownFields(s)
  v = call('HMGET', key, fs, fu)
  return { s = v[1] and v[1] + 0 or nil, u = v[2] and v[2] + 0 or 0, fs = fs, fu = fu, noted = true, e = keep }
end

-- Moves st to the key's other place when that is where the window starting at ref is kept: another window
-- held the shared fields when it was reserved, or holds them now.
local function toPlaceOf(key, s, st, ref)
  local fs, fu = 's', 'u'
  if st.fs == 's' then fs, fu = ownFields(s) end
  local v = call('HMGET', key, fs, fu)
  if v[1] and v[1] + 0 == ref then
    st.s, st.u, st.fs, st.fu, st.noted = ref, v[2] and v[2] + 0 or 0, fs, fu, true
  end
end

-- Writes a fixed window's fields; the first write to the shared fields notes the length they count in.
local function writeFixed(key, s, st, ...)
  if st.noted then
    call('HSET', key, ...)
  else
    st.noted = true
    call('HSET', key, 'l', num(s.len), ...)
  end
end
`;
