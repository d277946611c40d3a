// The BPE encoders, loaded lazily once per process (gpt-tokenizer: fastest in src/bench/tokenizers.ts).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Encoding } from './model-profile.js';

interface EncodingApi {
  countTokens(text: string, options?: { disallowedSpecial?: Set<string> }): number;
  setMergeCacheSize(size: number): void;
}

// gpt-tokenizer remembers the merges of up to 100,000 words per encoding (megabytes once a gateway has seen
// enough varied text). Whole prompts that repeat are cached by count-cache.ts; this cache only helps
// words that recur across different prompts, and the commonest ones fit in far fewer entries.
const MERGE_CACHE_WORDS = 20_000;

/** Rank → token, as gpt-tokenizer's bpeRanks modules hold it: the UTF-8 text, or the bytes when they are not text. */
export type BpeRanks = Array<string | number[]>;

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
 * seconds. Pre-tokens are runs of letters, of punctuation/symbols, of whitespace, or of [\r\n/] after
 * punctuation, so a text without a run of LONG_RUN such chars has no pre-token longer than
 * 2 × LONG_RUN − 1 (space + 255 symbols + 255 [\r\n/]) and goes to the library in one call.
 * Either way countTokens(text) = Σ over pre-tokens p of (p.length > MAX_PIECE ? bytes(p) : BPE(p)).
 */
const LONG_RUN = 256;
/** Pre-tokens longer than this are counted as their UTF-8 bytes (an upper bound) instead of merged. */
export const MAX_PIECE = 2 * LONG_RUN;

/** Unicode whitespace above ASCII: it may extend either a whitespace run or (for this scan) a word run. */
function isWideSpace(c: number): boolean {
  return c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

const isWordChar = (c: number) => c > 57 || (c > 32 && c < 48); // not ASCII whitespace/control, not an ASCII digit
const isSpaceChar = (c: number) => c <= 32 || (c > 127 && isWideSpace(c));
const isSlashChar = (c: number) => c === 10 || c === 13 || c === 47;

/** Length of the run of `inRun` chars around position p. */
function runAround(text: string, p: number, inRun: (c: number) => boolean): number {
  let l = p;
  while (l > 0 && inRun(text.charCodeAt(l - 1))) l--;
  let r = p;
  while (r < text.length && inRun(text.charCodeAt(r))) r++;
  return r - l;
}

/**
 * Whether `text` holds a run of LONG_RUN word, whitespace or [\r\n/] chars (so maybe a long pre-token).
 * Any such run covers a multiple of LONG_RUN / 2, so only those positions are probed: ~1/100 of a full scan.
 */
export function hasLongRun(text: string): boolean {
  for (let p = LONG_RUN / 2 - 1; p < text.length; p += LONG_RUN / 2) {
    const c = text.charCodeAt(p);
    if (isWordChar(c) && runAround(text, p, isWordChar) >= LONG_RUN) return true;
    if (isSpaceChar(c) && runAround(text, p, isSpaceChar) >= LONG_RUN) return true;
    if (isSlashChar(c) && runAround(text, p, isSlashChar) >= LONG_RUN) return true;
  }
  return false;
}

// UTF-8 decoding as gpt-tokenizer's generator (src/codegen/generateJsBpe.ts) did it: fatal, and stripping a
// leading BOM, so tokens starting with EF BB BF do not survive the round trip and stay bytes.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The ranks of `encoding` read from the library's own `.tiktoken` file (a base64 token and its rank per
 * line, the package's exported "./data/*"), to the array its bpeRanks module holds. Why not that module: it
 * is a 2.4 MB (o200k) array literal, and parsing it leaves some 20 MB of the parser's memory resident for
 * good; reading the file does not. encoders.test.ts checks that the result equals the module's array.
 */
export function readBpeRanks(encoding: Encoding): BpeRanks {
  const text = readFileSync(require.resolve(`gpt-tokenizer/data/${encoding}.tiktoken`), 'latin1');
  const ranks: BpeRanks = [];
  for (let start = 0; start < text.length; ) {
    let eol = text.indexOf('\n', start);
    if (eol === -1) eol = text.length;
    const space = text.indexOf(' ', start);
    if (space === -1 || space > eol) throw new Error(`${encoding}.tiktoken: malformed line at offset ${start}`);
    const bytes = Buffer.from(text.slice(start, space), 'base64');
    const rank = Number(text.slice(space + 1, eol));
    // Missing ranks are '' in the generated arrays.
    while (ranks.length < rank) ranks.push('');
    ranks.push(utf8Text(bytes) ?? [...bytes]);
    start = eol + 1;
  }
  return ranks;
}

function utf8Text(bytes: Uint8Array): string | undefined {
  try {
    const s = strictUtf8.decode(bytes);
    return Buffer.byteLength(s, 'utf8') === bytes.length ? s : undefined;
  } catch {
    return undefined;
  }
}

function encoder(encoding: Encoding): Encoder {
  let e = loaded.get(encoding);
  if (!e) {
    // The same API as gpt-tokenizer/cjs/encoding/<name> builds (those modules are one getEncodingApi call
    // on their bpeRanks array); GptEncoding is reached through the package's exported "./cjs/*" path.
    const { GptEncoding } = require('gpt-tokenizer/cjs/GptEncoding') as { GptEncoding: { getEncodingApi(name: Encoding, ranks: () => BpeRanks): EncodingApi } };
    const api = GptEncoding.getEncodingApi(encoding, () => readBpeRanks(encoding));
    api.setMergeCacheSize(MERGE_CACHE_WORDS);
    const regexes = require('gpt-tokenizer/cjs/encodingParams/constants') as Record<string, RegExp>;
    const split = encoding === 'o200k_base' ? regexes.O200K_TOKEN_SPLIT_REGEX : regexes.CL100K_TOKEN_SPLIT_REGEX;
    e = { api, split };
    loaded.set(encoding, e);
  }
  return e;
}

/** The library's pre-tokenizer regex for `encoding`: BPE never merges across the pieces it cuts. */
export function preTokenizer(encoding: Encoding): RegExp {
  return encoder(encoding).split;
}

/** Number of BPE tokens in `text` under `encoding` (pre-tokens over MAX_PIECE chars count as their bytes). */
export function countTokens(encoding: Encoding, text: string): number {
  if (text.length === 0) return 0;
  const { api, split } = encoder(encoding);
  if (text.length < LONG_RUN || !hasLongRun(text)) return api.countTokens(text, AS_TEXT);
  // Rare path: split with the library's own regex and merge only the pre-tokens that are cheap to merge.
  let n = 0;
  for (const [piece] of text.matchAll(split)) n += piece.length > MAX_PIECE ? Buffer.byteLength(piece, 'utf8') : api.countTokens(piece, AS_TEXT);
  return n;
}

/** Loads encoders ahead of the first request (≈ 80–280 ms each), e.g. at server start. */
export function preloadEncodings(encodings: readonly Encoding[] = ['o200k_base', 'cl100k_base']): void {
  for (const e of encodings) encoder(e);
}
