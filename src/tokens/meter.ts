// The two ways of measuring the leaves of a request body. The endpoint walkers are written once
// against Meter; the cheap bound and the exact count differ only here, leaf by leaf, and every
// bound leaf is ≥ its exact leaf, which is what makes upperBound ≥ exact() hold for whole bodies.
import { cachedCountTokens } from './count-cache.js';
import { imageTokens } from './image-cost.js';
import { dataUrlPayload, imageSizeFromBase64, imageSizeFromUrl } from './image-size.js';
import { audioTokens, audioTokensBound, fileTokens, fileTokensBound, PAGE_TEXT_TOKENS, unknownFileTokens } from './media-cost.js';
import type { Profile } from './model-profile.js';

/** Measures the leaves of a body in tokens, either as a cheap bound or exactly. */
export interface Meter {
  readonly profile: Profile;
  /** Tokens of text the model reads. */
  text(s: string): number;
  /** Strings as text, null/undefined as nothing, anything else as its compact JSON. */
  any(v: unknown): number;
  /** An image given by URL (data: or remote); `base64` is raw image data when there is no URL. */
  image(src: { url?: unknown; base64?: unknown }, detail: unknown): number;
  /** Base64 audio (or a data URL of it). */
  audio(data: unknown): number;
  /** An attached file: base64 data or data URL; anything else (file_id, URL) is an unknown file. */
  file(data: unknown): number;
  /** Encrypted content the provider turns back into tokens (reasoning items, redacted thinking). */
  opaque(s: unknown): number;
}

/** Compact JSON of a value, or '' if it has none (so malformed bodies never throw). */
export function jsonOf(v: unknown): string {
  try {
    return JSON.stringify(v) ?? '';
  } catch {
    return '';
  }
}

/** Tokens per PDF page: its page image at the worst case for the model plus its text. */
function perPage(p: Profile): number {
  return imageTokens(p.image, undefined, 'high') + PAGE_TEXT_TOKENS;
}

// Encrypted payloads: each plaintext token is at least one byte, and ciphertext is no shorter than plaintext.
const opaqueTokens = (s: unknown) => (typeof s === 'string' ? Math.ceil((s.length * 3) / 4) : 0);

abstract class BaseMeter implements Meter {
  protected readonly pageTokens: number;
  constructor(readonly profile: Profile) {
    this.pageTokens = perPage(profile);
  }
  abstract text(s: string): number;
  abstract image(src: { url?: unknown; base64?: unknown }, detail: unknown): number;
  abstract audio(data: unknown): number;
  abstract file(data: unknown): number;
  any(v: unknown): number {
    if (typeof v === 'string') return this.text(v);
    if (v === null || v === undefined) return 0;
    return this.text(jsonOf(v));
  }
  opaque(s: unknown): number {
    return opaqueTokens(s);
  }
}

/** Cheap: UTF-8 bytes per text (byte-level BPE never yields more tokens than bytes), worst cases for media. */
export class BoundMeter extends BaseMeter {
  // Estimated families may add a leading-space piece, hence the +1 on their per-text cap.
  private readonly slack = this.profile.factor === 1 ? 0 : 1;
  text(s: string): number {
    return s.length === 0 ? 0 : Buffer.byteLength(s, 'utf8') + this.slack;
  }
  image(_src: { url?: unknown; base64?: unknown }, detail: unknown): number {
    return imageTokens(this.profile.image, undefined, detail);
  }
  audio(data: unknown): number {
    return typeof data === 'string' ? audioTokensBound(data) : 0;
  }
  file(data: unknown): number {
    return typeof data === 'string' && data.length > 0 ? fileTokensBound(data, this.pageTokens) : unknownFileTokens(this.pageTokens);
  }
}

/** A text's numerals (`\p{N}`): their UTF-8 bytes, and the cl100k tokens they take at least (a run of k is cut in ⌈k/3⌉ pieces). */
export interface Numerals {
  bytes: number;
  chunks: number;
}

const NUMERAL_RUN = /\p{N}+/gu;

/** The numerals of `s`, for families that may split every digit (Profile.splitsDigits). */
export function numeralsOf(s: string): Numerals {
  let bytes = 0;
  let chunks = 0;
  for (const [run] of s.matchAll(NUMERAL_RUN)) {
    bytes += Buffer.byteLength(run, 'utf8');
    chunks += Math.ceil(codePoints(run) / 3);
  }
  return { bytes, chunks };
}

function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0xdc00 && s.charCodeAt(i) <= 0xdfff) n--;
  return n;
}

/**
 * A family's token count from a BPE count `n` of a text of `bytes` bytes: exact for OpenAI models,
 * otherwise factor × n (at least n + whitespace runs where the family counts them; where it may split
 * every digit, at least factor × the rest of the text plus a token per byte of numerals), capped at bytes + 1.
 */
export function familyEstimate(p: Profile, n: number, bytes: number, spaceRuns: () => number, numerals?: () => Numerals): number {
  if (p.factor === 1) return n;
  let est = Math.ceil(n * p.factor);
  if (p.countSpaceRuns) est = Math.max(est, n + spaceRuns());
  if (p.splitsDigits && numerals) {
    // cl100k cuts numerals from the text around them (so `n - chunks` is at least the rest's count), and
    // the family's tokenizer gives each numeral at most a token per byte.
    const d = numerals();
    if (d.bytes > 0) est = Math.max(est, Math.ceil(Math.max(0, n - d.chunks) * p.factor) + d.bytes);
  }
  return Math.min(est, bytes + 1);
}

/** Exact for OpenAI models; for the others the documented conservative estimate (factor × cl100k, capped by bytes). */
export class ExactMeter extends BaseMeter {
  text(s: string): number {
    if (s.length === 0) return 0;
    const n = cachedCountTokens(this.profile.encoding, s);
    // OpenAI's count is the billed one: no closures to build for the estimate (this runs for every text leaf).
    if (this.profile.factor === 1) return n;
    return familyEstimate(this.profile, n, Buffer.byteLength(s, 'utf8'), () => s.match(/\s+/g)?.length ?? 0, () => numeralsOf(s));
  }
  image(src: { url?: unknown; base64?: unknown }, detail: unknown): number {
    let dims;
    if (typeof src.url === 'string') dims = imageSizeFromUrl(src.url);
    else if (typeof src.base64 === 'string') dims = imageSizeFromBase64(dataUrlPayload(src.base64) ?? src.base64);
    return imageTokens(this.profile.image, dims, detail);
  }
  audio(data: unknown): number {
    return typeof data === 'string' ? audioTokens(data) : 0;
  }
  file(data: unknown): number {
    return typeof data === 'string' && data.length > 0 ? fileTokens(data, this.pageTokens) : unknownFileTokens(this.pageTokens);
  }
}
