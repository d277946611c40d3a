// Free attribution tags from `x-tollgate-tags: k=v,k2=v2` and the request's `metadata` object.
import { isUtf8 } from 'node:buffer';
import { invalidRequest, TollgateError } from '../errors/tollgate-error.js';

// `x-tollgate-tags` (Tollgate's own header): at most 16 tags, keys of a safe alphabet, printable values.
export const MAX_TAGS = 16;
export const MAX_TAG_KEY = 64;
export const MAX_TAG_VALUE = 256;
// `metadata`: exactly OpenAI's limits (at most 16 pairs, keys up to 64 characters, string values up to
// 512), so a request OpenAI accepts is never refused here. Counted in Unicode characters, not UTF-16 units.
export const MAX_METADATA_PAIRS = 16;
export const MAX_METADATA_KEY = 64;
export const MAX_METADATA_VALUE = 512;
// Header keys end up as report columns: keep them to a safe alphabet.
const KEY_PATTERN = /^[A-Za-z0-9_.\-]+$/;
// Values: printable, no control characters (they end up in CSV, logs and `tollgate usage`'s terminal
// table). C1 controls too: U+009B is CSI and U+009D OSC to terminals that read them in UTF-8 (VTE, xterm),
// so a tag could clear an admin's screen or retitle it; a header's byte 0x80-0x9F arrives as one of them.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROL_ALL = /[\u0000-\u001f\u007f-\u009f]/g;
// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Length in Unicode code points (an emoji is one character, as OpenAI counts it). */
function chars(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/**
 * Tags for one call: header tags win over metadata tags of the same key. Throws a 400 on bad tags.
 * Metadata is checked against OpenAI's limits only; any key or value within them is accepted, and is
 * recorded with control characters replaced by spaces (the body sent upstream is left untouched).
 */
export function readTags(header: string | string[] | undefined, metadata: unknown): Record<string, string> {
  // A Map, made an object at the end: assigned on a plain object, a tag named `__proto__` would be lost.
  const tags = new Map<string, string>();

  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== 'object' || Array.isArray(metadata)) throw invalid("'metadata' must be an object of string values", 'metadata');
    const entries = Object.entries(metadata as Record<string, unknown>);
    if (entries.length > MAX_METADATA_PAIRS) throw invalid(`'metadata' may hold at most ${MAX_METADATA_PAIRS} key-value pairs (it has ${entries.length})`, 'metadata');
    for (const [k, v] of entries) {
      // Anthropic's `metadata: {user_id: null}` is valid: a null value is simply no tag.
      if (v === null) continue;
      if (typeof v !== 'string') throw invalid(`'metadata.${k.slice(0, MAX_METADATA_KEY)}' must be a string`, 'metadata');
      if (chars(k) > MAX_METADATA_KEY) throw invalid(`metadata: key '${k.slice(0, MAX_METADATA_KEY)}...' is longer than ${MAX_METADATA_KEY} characters`, 'metadata');
      const length = chars(v);
      if (length > MAX_METADATA_VALUE) {
        throw invalid(`metadata: the value of '${k}' must be at most ${MAX_METADATA_VALUE} characters (it has ${length})`, 'metadata');
      }
      tags.set(recordable(k), recordable(v));
    }
  }

  const text = utf8HeaderText(Array.isArray(header) ? header.join(',') : header);
  if (text) {
    const seen = new Set<string>();
    for (const pair of text.split(',')) {
      const trimmed = pair.trim();
      if (!trimmed) continue;
      const eq = trimmed.indexOf('=');
      if (eq <= 0) throw invalid(`x-tollgate-tags: '${trimmed.slice(0, 80)}' is not key=value`);
      const key = trimmed.slice(0, eq).trim();
      const value = trimmed.slice(eq + 1).trim();
      if (!KEY_PATTERN.test(key) || key.length > MAX_TAG_KEY) {
        throw invalid(`x-tollgate-tags: tag key '${key.slice(0, MAX_TAG_KEY)}' must be 1-${MAX_TAG_KEY} characters of A-Z a-z 0-9 _ . -`);
      }
      if (chars(value) > MAX_TAG_VALUE || CONTROL.test(value)) {
        throw invalid(`x-tollgate-tags: the value of tag '${key}' must be at most ${MAX_TAG_VALUE} printable characters`);
      }
      seen.add(key);
      if (seen.size > MAX_TAGS) throw invalid(`x-tollgate-tags: at most ${MAX_TAGS} tags per request`);
      tags.set(key, value);
    }
  }
  return Object.fromEntries(tags);
}

/**
 * A header value as the client wrote it. Node reads header bytes as Latin-1, so a UTF-8 `café` arrives as
 * `cafÃ©` and a `€` brings a C1 control (0x82) with it: valid UTF-8 is decoded as such, so that refusing C1
 * controls refuses only the bytes that are no text.
 */
function utf8HeaderText(text: string | undefined): string | undefined {
  if (!text || !NON_ASCII.test(text)) return text;
  const bytes = Buffer.from(text, 'latin1');
  return isUtf8(bytes) ? bytes.toString('utf8') : text;
}

const NON_ASCII = /[^\u0000-\u007f]/;

/**
 * Metadata text as the ledger records it: control characters as spaces, and a lone UTF-16 surrogate (valid
 * in JSON as `\ud800`) as U+FFFD, since PostgreSQL's jsonb refuses one, and a row it refuses would stop
 * every later row at the head of the ledger's write queue.
 */
function recordable(text: string): string {
  return text.replace(CONTROL_ALL, ' ').replace(LONE_SURROGATE, '\ufffd');
}

/** Tag errors end their sentence here, so their details read as one. */
function invalid(detail: string, param?: string): TollgateError {
  return invalidRequest(`${detail}.`, param);
}
