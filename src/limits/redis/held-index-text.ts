// The held index on the instance's side (lua-held-index.ts has the Lua side): reading the noted
// reservations and their counters, and writing RESTORE_LUA's "what the ledger counts" argument. Lengths
// count bytes, as Lua's # does: a user id in a key may hold any character.
import type { HeldCalls } from '../counter-store.js';
import { isPermissionRefusal } from '../store-errors.js';
import { heldIndexKey } from './hash-tags.js';
import { MAX_HELD_READ } from './lua-held-index.js';
import type { RedisClient } from './redis-client.js';
/** A noted reservation's value, "<expires at ms> <key length> <key> <amount> <where it went>:<window length> ...": when it expires, and the counters it holds. */
export function readHeldEntry(value: Buffer): { expiresAtMs: number; keys: string[] } {
  const space = 0x20;
  let stop = value.indexOf(space);
  const expiresAtMs = Number(value.subarray(0, stop).toString());
  const keys: string[] = [];
  let at = stop + 1;
  while (at < value.length) {
    stop = value.indexOf(space, at);
    const length = Number(value.subarray(at, stop).toString());
    keys.push(value.subarray(stop + 1, stop + 1 + length).toString());
    at = stop + 1 + length + 1;
    // The amount, and where it went with the window's length.
    for (let field = 0; field < 2; field++) {
      stop = value.indexOf(space, at);
      at = stop < 0 ? value.length : stop + 1;
    }
  }
  return { expiresAtMs, keys };
}

const prefixed = (text: string): string => `${Buffer.byteLength(text)} ${text}`;

/** RESTORE_LUA's third ARGV: per noted reservation (its record key) and counter key, what the ledger counts of it. */
export function countedArg(counted: Array<{ field: string; key: string; amount: number }>): string {
  return counted.map((c) => `${prefixed(c.field)} ${prefixed(c.key)} ${c.amount}`).join(' ');
}

/**
 * The calls noted in organization `tag`'s index whose entries have not expired by `nowMs`, with the keys of
 * the counters each holds; none for an index too large for the restore to read (MAX_HELD_READ). HLEN is not
 * among the commands the ACL check asks for (older releases did not need it): a user refused it reads the
 * index whatever its size. `bounded` bounds each command's wait (the store's call timeout).
 */
export async function readHeldCalls(client: RedisClient, bounded: <T>(p: Promise<T>) => Promise<T>, tag: string, nowMs: number): Promise<HeldCalls['calls']> {
  const key = heldIndexKey(tag);
  const size = await bounded(client.hlen(key)).catch((err: Error) => (isPermissionRefusal(err) ? 0 : Promise.reject(err)));
  if (size > MAX_HELD_READ) return [];
  const prefix = `${tag}:res:`;
  const calls: HeldCalls['calls'] = [];
  for (const [field, value] of Object.entries(await bounded(client.hgetallBuffer(key)))) {
    const { expiresAtMs, keys } = readHeldEntry(value);
    if (expiresAtMs > nowMs && field.startsWith(prefix)) calls.push({ id: field.slice(prefix.length), keys });
  }
  return calls;
}
