// The held index's text on the instance's side (lua-held-index.ts has the Lua side): reading a noted
// reservation's counters, and writing RESTORE_LUA's "what the ledger counts" argument. Lengths count
// bytes, as Lua's # does: a user id in a key may hold any character.
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
