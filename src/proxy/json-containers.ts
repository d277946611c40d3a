// A bound on the work JSON.parse does for one body. Parsing cost grows with the number of objects and
// arrays far more than with bytes: 7.7 MB of `[]` pairs takes V8 ~2.5 s (~650 ns per array, measured on
// the development VM) against ~0.27 s for 7.7 MB of flat numbers, and the event loop serves nothing
// meanwhile. Real requests hold a few thousand (a 1,000-message chat with content parts, 128 tools with
// their schemas, 2,048 token arrays for embeddings); the cap leaves room for ten times that.
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const COLON = 0x3a;

/** The most objects and arrays one request body may hold. */
export const MAX_JSON_CONTAINERS = 100_000;

/**
 * The most object members (keys) one request body may hold. Keys cost V8 more than containers: one
 * object of 700,000 keys (9.7 MB) took ~1.2 s to parse and as long again to copy and serialize for the
 * upstream, the event loop stalled 2 s per request, though it holds one container. Real bodies have a few
 * thousand (a 1,000-message chat, 128 tools with their schemas); the cap leaves room for ten times that.
 */
export const MAX_JSON_KEYS = 100_000;

/** What one scan of a JSON text found: the bound it passed, if any, and how many object members it holds. */
export interface JsonScan {
  over: 'containers' | 'keys' | undefined;
  /** Object members (keys) written, duplicates included; counted up to the bound passed. */
  members: number;
}

/**
 * Scans `bytes` (JSON text) once: more than `maxContainers` objects and arrays, or more than `maxKeys`
 * object members (a colon outside strings is one member's), is `over` that bound. ~0.2–0.7 ns per byte
 * (strings are skipped with indexOf), a fraction of the parse it guards; it does not validate the JSON.
 */
export function scanJson(bytes: Uint8Array, maxContainers: number, maxKeys: number): JsonScan {
  let containers = 0;
  let keys = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === QUOTE) {
      i = closingQuote(bytes, i);
      if (i < 0) break; // an unterminated string: JSON.parse reports it
    } else if (c === COLON) {
      if (++keys > maxKeys) return { over: 'keys', members: keys };
    } else if ((c === OPEN_ARRAY || c === OPEN_OBJECT) && ++containers > maxContainers) {
      return { over: 'containers', members: keys };
    }
  }
  return { over: undefined, members: keys };
}

/**
 * Whether the parsed value of a JSON text that wrote `members` object members holds fewer: some object
 * named one key twice. JSON.parse keeps the last of them; other parsers keep the first, or refuse the
 * text. Walked without recursion (JSON.parse accepts nesting deeper than the call stack).
 */
export function lostDuplicateKeys(value: unknown, members: number): boolean {
  let seen = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (const x of v) if (typeof x === 'object' && x !== null) stack.push(x);
      continue;
    }
    for (const k in v) {
      seen++;
      const x = (v as Record<string, unknown>)[k];
      if (typeof x === 'object' && x !== null) stack.push(x);
    }
    // Parsing never adds members: once all are seen, none was lost.
    if (seen >= members) return false;
  }
  return seen < members;
}

/** The index of the quote that closes the string opened at `open`, or -1. */
function closingQuote(bytes: Uint8Array, open: number): number {
  let from = open + 1;
  for (;;) {
    const at = bytes.indexOf(QUOTE, from);
    if (at < 0) return -1;
    // Escaped when an odd number of backslashes precede it.
    let backslashes = 0;
    while (bytes[at - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return at;
    from = at + 1;
  }
}
