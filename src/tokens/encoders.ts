// The BPE encoders, loaded lazily once per process (gpt-tokenizer: fastest in src/bench/tokenizers.ts).
import { createRequire } from 'node:module';
import type { Encoding } from './model-profile.js';

interface EncodingApi {
  countTokens(text: string, options?: { disallowedSpecial?: Set<string> }): number;
}

interface Encoder {
  api: EncodingApi;
  /** The library's own pre-tokenizer regex for this encoding. */
  split: RegExp;
}

// require() keeps loading synchronous so exact() stays synchronous; each module is parsed only when first used.
const require = createRequire(import.meta.url);
const loaded = new Map<Encoding, Encoder>();

// Text like "<|endoftext|>" inside a prompt is ordinary text to the API, never a special token.
const AS_TEXT = { disallowedSpecial: new Set<string>() };

/**
 * BPE merging is quadratic in the length of one pre-token: 100 KB of "a" (a single pre-token) takes
 * seconds. Pre-tokens come from runs of one character class, so a text without such a run of
 * LONG_RUN chars has no pre-token longer than ~2 × LONG_RUN, and is counted by the library in one call.
 */
const LONG_RUN = 256;
const HAS_LONG_RUN = new RegExp(String.raw`[\p{L}\p{M}]{${LONG_RUN}}|[^\s\p{L}\p{N}]{${LONG_RUN}}|\s{${LONG_RUN}}|[\r\n/]{${LONG_RUN}}`, 'u');
/** Pre-tokens longer than this are counted as their UTF-8 bytes (an upper bound) instead of merged. */
export const MAX_PIECE = 2 * LONG_RUN;

function encoder(encoding: Encoding): Encoder {
  let e = loaded.get(encoding);
  if (!e) {
    const api = require(`gpt-tokenizer/cjs/encoding/${encoding}`) as EncodingApi;
    const regexes = require('gpt-tokenizer/cjs/encodingParams/constants') as Record<string, RegExp>;
    const split = encoding === 'o200k_base' ? regexes.O200K_TOKEN_SPLIT_REGEX : regexes.CL100K_TOKEN_SPLIT_REGEX;
    e = { api, split };
    loaded.set(encoding, e);
  }
  return e;
}

/** Number of BPE tokens in `text` under `encoding` (pre-tokens over MAX_PIECE chars count as their bytes). */
export function countTokens(encoding: Encoding, text: string): number {
  if (text.length === 0) return 0;
  const { api, split } = encoder(encoding);
  if (text.length < LONG_RUN || !HAS_LONG_RUN.test(text)) return api.countTokens(text, AS_TEXT);
  // Rare path: split with the library's own regex and merge only the pre-tokens that are cheap to merge.
  let n = 0;
  for (const [piece] of text.matchAll(split)) n += piece.length > MAX_PIECE ? Buffer.byteLength(piece, 'utf8') : api.countTokens(piece, AS_TEXT);
  return n;
}

/** Loads encoders ahead of the first request (≈ 80–280 ms each), e.g. at server start. */
export function preloadEncodings(encodings: readonly Encoding[] = ['o200k_base', 'cl100k_base']): void {
  for (const e of encodings) encoder(e);
}
