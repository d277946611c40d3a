// Where the Redis store keeps who owns an object a provider stores (a Responses API response, a
// conversation), and how the record is written. The key's hash tag is the object's id, not an
// organization: a record is looked up by id alone, for a caller of any organization, so that an id
// another organization owns is found (and refused) too. Under the caller's own tag it would read as
// unknown, and unknown response ids are forwarded (see response-owners.ts).
// One key per command: no script spans two slots, so a cluster never sees CROSSSLOT.
import { isConversationId, type ResponseOwner } from '../counter-store.js';

/**
 * `tg:{resp:<id>}` for a response, `tg:{conv:<id>}` for a conversation (`conv_...`): organization names
 * cannot hold `:`, so these tags are never an organization's.
 */
export function responseOwnerKey(id: string): string {
  return isConversationId(id) ? `tg:{conv:${id}}` : `tg:{resp:${id}}`;
}

/** The record's value: JSON, so any configured name round-trips. */
export function encodeResponseOwner(owner: ResponseOwner): string {
  return JSON.stringify({ o: owner.organization, p: owner.project, v: owner.provider, c: owner.contextTokens });
}

/** The owner a stored value names; undefined for a value this version did not write. */
export function decodeResponseOwner(value: string | null): ResponseOwner | undefined {
  if (value === null) return undefined;
  try {
    const v = JSON.parse(value) as { o?: unknown; p?: unknown; v?: unknown; c?: unknown };
    if (typeof v.o !== 'string' || typeof v.v !== 'string' || (v.p !== undefined && typeof v.p !== 'string')) return undefined;
    const owner: ResponseOwner = { organization: v.o, provider: v.v };
    if (typeof v.p === 'string') owner.project = v.p;
    if (typeof v.c === 'number' && Number.isFinite(v.c) && v.c >= 0) owner.contextTokens = v.c;
    return owner;
  } catch {
    return undefined;
  }
}

/**
 * KEYS: the record. ARGV: tokens to add to its size (`c`), the TTL (ms). The record read, grown and written
 * in one step, so that sizes added at once by several instances all count; a record without a size (or
 * none, or one this version did not write) is left alone. Returns 1 when it grew.
 */
export const GROW_OWNER_LUA = `
local value = redis.call('GET', KEYS[1])
if not value then return 0 end
local ok, record = pcall(cjson.decode, value)
if not ok or type(record) ~= 'table' or type(record.c) ~= 'number' then return 0 end
record.c = record.c + tonumber(ARGV[1])
redis.call('SET', KEYS[1], cjson.encode(record), 'PX', ARGV[2])
return 1
`;
