// Image token costs per provider rule. Unknown dimensions always get the rule's worst case,
// so the cost with known dimensions never exceeds the cost without them (the cheap bound relies on it).
import type { ImageDims } from './image-size.js';

/** How a model family bills an image. */
export type ImageRule =
  /** OpenAI tile models: base + tile × 512px tiles after fitting 2048² then shortest side 768. */
  /** OpenAI tile models; `multiplier` (default 1) scales the result, as gpt-5.2 and later bill. */
  | { kind: 'tiles'; base: number; tile: number; multiplier?: number }
  /**
   * OpenAI patch models: 32px patches × multiplier. At most `budget` patches (default 1536), or
   * `originalBudget` for `detail: "original"` on models that have it; other `detail` values are ignored.
   */
  | { kind: 'patches'; multiplier: number; budget?: number; originalBudget?: number }
  /** The largest of several rules: for models whose documented rule is uncertain. */
  | { kind: 'max'; rules: ImageRule[] }
  /** Anthropic: w·h/750 or 28px patches, whichever is more, after fitting maxEdge and about `cap` tokens. */
  | { kind: 'claude'; maxEdge: number; cap: number }
  /** Open vision models behind vLLM and friends: see GENERIC_IMAGE_CAP. */
  | { kind: 'generic' };

const MAX_PATCHES = 1536;
const MAX_TILES = 8; // ≤ 2 tiles across the ≤768px short side × ≤ 4 along the ≤2048px long side
/** Largest per-image cost among common open vision models (Qwen2-VL's default max_pixels ⇒ 16384 tokens). */
export const GENERIC_IMAGE_CAP = 16_384;

// Guards the ceilings against float noise such as 33.000000004 after a resize.
const ceil = (x: number): number => Math.ceil(x - 1e-9);

function validDims(d: ImageDims | undefined): d is ImageDims {
  return !!d && Number.isFinite(d.width) && Number.isFinite(d.height) && d.width > 0 && d.height > 0;
}

function tiles(rule: { base: number; tile: number; multiplier?: number }, d: ImageDims | undefined, detail: unknown): number {
  const m = rule.multiplier ?? 1;
  if (detail === 'low') return Math.ceil(rule.base * m);
  if (!validDims(d)) return Math.ceil((rule.base + rule.tile * MAX_TILES) * m);
  let { width: w, height: h } = d;
  const long = Math.max(w, h);
  if (long > 2048) {
    w = (w * 2048) / long;
    h = (h * 2048) / long;
  }
  const short = Math.min(w, h);
  if (short > 768) {
    w = (w * 768) / short;
    h = (h * 768) / short;
  }
  const n = Math.min(MAX_TILES, ceil(w / 512) * ceil(h / 512));
  return Math.ceil((rule.base + rule.tile * n) * m);
}

function patches(rule: { multiplier: number; budget?: number; originalBudget?: number }, d: ImageDims | undefined, detail: unknown): number {
  const budget = (detail === 'original' ? rule.originalBudget : undefined) ?? rule.budget ?? MAX_PATCHES;
  if (!validDims(d)) return Math.ceil(budget * rule.multiplier);
  const { width: w, height: h } = d;
  let n = ceil(w / 32) * ceil(h / 32);
  if (n > budget) {
    // OpenAI's documented shrink: scale to the patch budget, then so that whole patches fit.
    let r = Math.sqrt((32 * 32 * budget) / (w * h));
    r *= Math.min(Math.floor((w * r) / 32) / ((w * r) / 32), Math.floor((h * r) / 32) / ((h * r) / 32));
    n = ceil((w * r) / 32) * ceil((h * r) / 32);
  }
  return Math.ceil(Math.min(n, budget) * rule.multiplier);
}

function claude(rule: { maxEdge: number; cap: number }, d: ImageDims | undefined): number {
  if (!validDims(d)) return rule.cap;
  let { width: w, height: h } = d;
  const s = Math.min(1, rule.maxEdge / Math.max(w, h), Math.sqrt((rule.cap * 750) / (w * h)));
  w *= s;
  h *= s;
  return Math.min(rule.cap, Math.max(ceil((w * h) / 750), ceil(w / 28) * ceil(h / 28)));
}

function generic(d: ImageDims | undefined): number {
  if (!validDims(d)) return GENERIC_IMAGE_CAP;
  const { width: w, height: h } = d;
  const llamaTiles = 1601 * Math.min(4, ceil(w / 560) * ceil(h / 560)); // Llama 3.2 Vision: 560px tiles, ≤ 4
  const pixtral = ceil(w / 16) * (ceil(h / 16) + 1); // 16px patches plus one break token per row
  return Math.min(GENERIC_IMAGE_CAP, Math.max(llamaTiles, pixtral));
}

/** Tokens one image costs under `rule`; `dims` undefined (remote URL, unreadable data) means the worst case. */
export function imageTokens(rule: ImageRule, dims: ImageDims | undefined, detail: unknown): number {
  switch (rule.kind) {
    case 'tiles':
      return tiles(rule, dims, detail);
    case 'patches':
      return patches(rule, dims, detail);
    case 'max':
      return Math.max(...rule.rules.map((r) => imageTokens(r, dims, detail)));
    case 'claude':
      return claude(rule, dims);
    default:
      return generic(dims);
  }
}
