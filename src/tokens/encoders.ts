// The BPE encoders, loaded lazily once per process (gpt-tokenizer: fastest in src/bench/tokenizers.ts).
import { createRequire } from 'node:module';
import type { Encoding } from './model-profile.js';

interface EncodingApi {
  countTokens(text: string, options?: { disallowedSpecial?: Set<string> }): number;
}

// require() keeps loading synchronous so exact() stays synchronous; each module is parsed only when first used.
const require = createRequire(import.meta.url);
const loaded = new Map<Encoding, EncodingApi>();

// Text like "<|endoftext|>" inside a prompt is ordinary text to the API, never a special token.
const AS_TEXT = { disallowedSpecial: new Set<string>() };

function encoder(encoding: Encoding): EncodingApi {
  let api = loaded.get(encoding);
  if (!api) {
    api = require(`gpt-tokenizer/cjs/encoding/${encoding}`) as EncodingApi;
    loaded.set(encoding, api);
  }
  return api;
}

/** Number of BPE tokens in `text` under `encoding`. */
export function countTokens(encoding: Encoding, text: string): number {
  return text.length === 0 ? 0 : encoder(encoding).countTokens(text, AS_TEXT);
}

/** Loads encoders ahead of the first request (≈ 80–180 ms each), e.g. at server start. */
export function preloadEncodings(encodings: readonly Encoding[] = ['o200k_base', 'cl100k_base']): void {
  for (const e of encodings) encoder(e);
}
