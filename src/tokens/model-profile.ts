// Which tokenizer, overheads and image rule a model name maps to. Every number is explained in docs/tokens.md.
import type { ImageRule } from './image-cost.js';

export type Encoding = 'o200k_base' | 'cl100k_base';

/** How a model family turns a request into billed tokens. */
export interface Profile {
  /** openai: the count reproduces billing; claude/generic: a conservative estimate. */
  family: 'openai' | 'claude' | 'generic';
  encoding: Encoding;
  /** Multiplier on the encoding's count; 1 means the count is the billed count. */
  factor: number;
  /** Claude's newer tokenizer splits the space before a word into its own token; count those too. */
  countSpaceRuns: boolean;
  /**
   * The family's tokenizer may give every numeral its own token (Qwen, Gemma, the 32k SentencePiece
   * vocabularies), where cl100k puts up to three digits in one: numerals are then counted by their bytes.
   */
  splitsDigits: boolean;
  image: ImageRule;
  /** Tokens wrapped around every chat message (role markers, separators). */
  perMessage: number;
  /** Extra tokens when a message carries a `name`. */
  perName: number;
  /** Tokens added once per chat request (reply priming, template preamble). */
  perRequest: number;
  /** Tokens around each tool call or tool result, beyond its name and arguments. */
  perToolCall: number;
  /** Tokens added once when tool/function definitions are present (the rendered tools preamble). */
  toolsBase: number;
  /** Tokens added per tool/function definition, beyond its JSON. */
  perTool: number;
  /** Tokens added once when a JSON schema output format is present, beyond its JSON. */
  schemaBase: number;
  /** Tokens added per prompt on the completions/embeddings endpoints (BOS and the like). */
  perPrompt: number;
  /** Tokens added per provider-defined (server) tool such as Anthropic's computer or bash tools. */
  perBuiltinTool: number;
}

// OpenAI: the cookbook's chat rule (3 per message, +1 per name, +3 reply priming).
const OPENAI_BASE = {
  family: 'openai',
  factor: 1,
  countSpaceRuns: false,
  splitsDigits: false,
  perMessage: 3,
  perName: 1,
  perRequest: 3,
  perToolCall: 12,
  toolsBase: 16,
  perTool: 8,
  schemaBase: 16,
  perPrompt: 0,
  perBuiltinTool: 0,
} as const;

const TILES_4O: ImageRule = { kind: 'tiles', base: 85, tile: 170 };

// gpt-5.2 and later (gpt-5.3-codex, gpt-5.4, gpt-5.4-mini, ...): 32px patches with a larger budget, 2,500 at
// `high` and 10,000 at `detail: "original"` (6000 px, 10.24 MP), billed about 1.2× (community measurements;
// gpt-5.2 was also reported as the gpt-5 tile rule × 1.2, so that rule is taken too when larger).
const GPT5_LATER = /^gpt-5\.(?:[2-9]|\d{2,})/;
const LATER_PATCHES = { budget: 2500, originalBudget: 10_000 } as const;

/** OpenAI's documented image rule for one model name (already normalised). */
function openaiImageRule(m: string): ImageRule {
  if (m.startsWith('gpt-4o-mini')) return { kind: 'tiles', base: 2833, tile: 5667 };
  // Small gpt-5 models in any version (gpt-5-mini, gpt-5.1-codex-mini, gpt-5.4-nano) use the small models' multipliers.
  const gpt5 = m.startsWith('gpt-5');
  const later = GPT5_LATER.test(m) ? LATER_PATCHES : {};
  if (m.startsWith('gpt-4.1-mini') || (gpt5 && /-mini(?:$|-)/.test(m))) return { kind: 'patches', multiplier: 1.62, ...later };
  if (m.startsWith('gpt-4.1-nano') || (gpt5 && /-nano(?:$|-)/.test(m))) return { kind: 'patches', multiplier: 2.46, ...later };
  if (m.startsWith('o4-mini') || m.startsWith('codex-mini')) return { kind: 'patches', multiplier: 1.72 };
  if (/^o[13](?:$|-)/.test(m)) return { kind: 'tiles', base: 75, tile: 150 };
  if (GPT5_LATER.test(m)) {
    return { kind: 'max', rules: [{ kind: 'tiles', base: 70, tile: 140, multiplier: 1.2 }, { kind: 'patches', multiplier: 1.2, ...LATER_PATCHES }] };
  }
  if (gpt5) return { kind: 'tiles', base: 70, tile: 140 };
  if (m.startsWith('computer-use-preview')) return { kind: 'tiles', base: 65, tile: 129 };
  return TILES_4O;
}

const O200K = /^(?:gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o[1-9](?:$|-)|codex-mini|computer-use-preview)/;
const CL100K = /^(?:gpt-4|gpt-3\.5|gpt-35|text-embedding-3-|text-embedding-ada-002|davinci-002|babbage-002)/;

/** Strips routing prefixes (`openai/gpt-4o`, `ft:gpt-4o:org::id`) and case. */
export function baseModelName(model: string): string {
  let m = String(model).trim().toLowerCase();
  if (m.startsWith('ft:')) m = m.slice(3).split(':')[0];
  const slash = m.lastIndexOf('/');
  if (slash >= 0) m = m.slice(slash + 1);
  return m;
}

/** Major.minor of a Claude model name, or undefined when it cannot be read. */
function claudeVersion(m: string): number | undefined {
  const v = /claude-(?:(?:opus|sonnet|haiku|instant)-)?(\d{1,2})(?:[-.](\d{1,2})(?!\d))?/.exec(m);
  return v ? Number(v[1]) + Number(v[2] ?? 0) / 10 : undefined;
}

// Claude's tokenizer is not public: cl100k × factor, see docs/tokens.md for the measurements behind 1.4 and 1.8.
const CLAUDE_BASE = {
  family: 'claude',
  encoding: 'cl100k_base',
  splitsDigits: false,
  perMessage: 6,
  perName: 2,
  perRequest: 10,
  perToolCall: 20,
  toolsBase: 530,
  perTool: 20,
  schemaBase: 64,
  perPrompt: 2,
  perBuiltinTool: 1300,
} as const;

const GENERIC_BASE = {
  family: 'generic',
  encoding: 'cl100k_base',
  countSpaceRuns: false,
  image: { kind: 'generic' },
  perMessage: 8,
  perName: 2,
  perRequest: 48,
  perToolCall: 20,
  toolsBase: 256,
  perTool: 16,
  schemaBase: 32,
  perPrompt: 2,
  perBuiltinTool: 0,
} as const;

// Open families whose pre-tokenizer groups up to three digits in one token, as cl100k does (`\p{N}{1,3}`):
// Llama 3 and 4, gpt-oss, DeepSeek V3 and R1. Any other open model (Qwen, Gemma, Llama 2, Mistral 7B, an
// unknown name) may split every digit, and is estimated so.
const GROUPS_DIGITS = /llama-?[34](?!\d)|gpt-oss|deepseek/;

// Families with a 32k SentencePiece vocabulary, which splits text much finer than cl100k.
const SMALL_VOCAB = /llama-?2|codellama|mistral-7b|mixtral|vicuna|alpaca|falcon|phi-2/;

/** Works out the profile of a model name; see docs/tokens.md for the table. */
export function resolveProfile(model: string): Profile {
  const m = baseModelName(model);
  if (O200K.test(m)) return { ...OPENAI_BASE, encoding: 'o200k_base', image: openaiImageRule(m) };
  if (CL100K.test(m)) return { ...OPENAI_BASE, encoding: 'cl100k_base', image: TILES_4O };
  if (m.includes('claude')) {
    const v = claudeVersion(m);
    const legacy = v !== undefined && v < 4.7;
    return legacy
      ? { ...CLAUDE_BASE, factor: 1.4, countSpaceRuns: false, image: { kind: 'claude', maxEdge: 1568, cap: 1650 } }
      : { ...CLAUDE_BASE, factor: 1.8, countSpaceRuns: true, image: { kind: 'claude', maxEdge: 2576, cap: 5000 } };
  }
  return { ...GENERIC_BASE, factor: SMALL_VOCAB.test(m) ? 2 : 1.5, splitsDigits: !GROUPS_DIGITS.test(m) };
}

const cache = new Map<string, Profile>();

/** The profile of `model`, memoised (names come from the routing table, so the set is small). */
export function profileFor(model: string): Profile {
  let p = cache.get(model);
  if (!p) {
    p = resolveProfile(model);
    // A bounded memo: unknown names from clients must not grow it without end.
    if (cache.size < 1024) cache.set(model, p);
  }
  return p;
}
