// Free attribution tags from `x-tollgate-tags: k=v,k2=v2` and the request's `metadata` object.
import { invalidRequest, TollgateError } from '../errors/tollgate-error.js';

export const MAX_TAGS = 16;
export const MAX_TAG_KEY = 64;
export const MAX_TAG_VALUE = 256;
// Keys end up as report columns and metric labels: keep them to a safe alphabet.
const KEY_PATTERN = /^[A-Za-z0-9_.\-]+$/;
// Values: printable, no control characters (they end up in CSV and logs).
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Tags for one call: header tags win over metadata tags of the same key. Throws a 400 on bad tags. */
export function readTags(header: string | string[] | undefined, metadata: unknown): Record<string, string> {
  const tags: Record<string, string> = {};
  let count = 0;
  const put = (key: string, value: string, source: string): void => {
    if (!KEY_PATTERN.test(key) || key.length > MAX_TAG_KEY) {
      throw invalid(`${source}: tag key '${key.slice(0, MAX_TAG_KEY)}' must be 1-${MAX_TAG_KEY} characters of A-Z a-z 0-9 _ . -`);
    }
    if (value.length > MAX_TAG_VALUE || CONTROL.test(value)) {
      throw invalid(`${source}: the value of tag '${key}' must be at most ${MAX_TAG_VALUE} printable characters`);
    }
    if (!(key in tags) && ++count > MAX_TAGS) throw invalid(`${source}: at most ${MAX_TAGS} tags per request`);
    tags[key] = value;
  };

  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== 'object' || Array.isArray(metadata)) throw invalid("'metadata' must be an object of string values", 'metadata');
    for (const [k, v] of Object.entries(metadata as Record<string, unknown>)) {
      if (typeof v !== 'string') throw invalid(`'metadata.${k}' must be a string`, 'metadata');
      put(k, v, 'metadata');
    }
  }
  const text = Array.isArray(header) ? header.join(',') : header;
  if (text) {
    for (const pair of text.split(',')) {
      const trimmed = pair.trim();
      if (!trimmed) continue;
      const eq = trimmed.indexOf('=');
      if (eq <= 0) throw invalid(`x-tollgate-tags: '${trimmed.slice(0, 80)}' is not key=value`);
      put(trimmed.slice(0, eq).trim(), trimmed.slice(eq + 1).trim(), 'x-tollgate-tags');
    }
  }
  return tags;
}

/** Tag errors end their sentence here, so their details read as one. */
function invalid(detail: string, param?: string): TollgateError {
  return invalidRequest(`${detail}.`, param);
}
