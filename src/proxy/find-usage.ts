// Finds the top-level `usage` object in a JSON response without parsing the whole body: responses can
// be large, and the usage object is all the gateway needs from them.
import type { JsonObject } from './request-shape.js';

const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c;

/**
 * Returns the parsed `"usage": {...}` object that appears last in `raw`, or undefined.
 * Inside JSON strings quotes are escaped, so an unescaped `"usage":` can only be a key.
 */
export function findUsage(raw: Buffer): JsonObject | undefined {
  let at = raw.lastIndexOf('"usage":');
  let keyLength = 8;
  if (at < 0) {
    at = raw.lastIndexOf('"usage" :');
    keyLength = 9;
  }
  if (at < 0) return undefined;
  let i = at + keyLength;
  while (i < raw.length && raw[i] !== OPEN) {
    if (raw[i] !== 0x20 && raw[i] !== 0x0a && raw[i] !== 0x0d && raw[i] !== 0x09) return undefined; // `null`, a number...
    i++;
  }
  const start = i;
  let depth = 0;
  let inString = false;
  for (; i < raw.length; i++) {
    const c = raw[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN) depth++;
    else if (c === CLOSE && --depth === 0) {
      try {
        return JSON.parse(raw.toString('utf8', start, i + 1)) as JsonObject;
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
