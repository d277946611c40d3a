// Chat completions' `logprobs: true` (with `top_logprobs: 0..20`): each choice says how likely each token it
// generated was, as `logprobs: {content: [{token, logprob, bytes, top_logprobs}], refusal: null}`; streamed,
// each content chunk carries the entries of its own tokens. Without `logprobs: true` the field is null.
// The Responses API gives the same entries in each `output_text` part's `logprobs` (and each delta's) when
// `include` has `message.output_text.logprobs`; otherwise those lists are empty.
import { MOCK_WORDS } from './mock-text.js';

/** One entry of `logprobs.content` (or of an entry's `top_logprobs`, which have no list of their own). */
export interface TokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs?: Omit<TokenLogprob, 'top_logprobs'>[];
}

/** How many alternatives each token lists, or undefined when the request did not ask for logprobs. */
export function wantedLogprobs(body: Record<string, unknown>): number | undefined {
  if (body.logprobs !== true) return undefined;
  return typeof body.top_logprobs === 'number' && body.top_logprobs > 0 ? Math.min(20, Math.floor(body.top_logprobs)) : 0;
}

/** The Responses API's equivalent: alternatives per token when `include` asks for the text's logprobs. */
export function wantedResponsesLogprobs(body: Record<string, unknown>): number | undefined {
  if (!Array.isArray(body.include) || !body.include.includes('message.output_text.logprobs')) return undefined;
  return typeof body.top_logprobs === 'number' && body.top_logprobs > 0 ? Math.min(20, Math.floor(body.top_logprobs)) : 0;
}

function bare(token: string, logprob: number): Omit<TokenLogprob, 'top_logprobs'> {
  return { token, logprob, bytes: [...Buffer.from(token, 'utf8')] };
}

/** The entry of the `at`-th generated token `token`: a fixed, plausible logprob, the token itself first among `top` alternatives. */
export function tokenLogprob(token: string, at: number, top: number): TokenLogprob {
  const logprob = -Number((0.01 + (at % 5) * 0.05).toFixed(4));
  const others = MOCK_WORDS.filter((w) => w !== token.trim()).slice(at % 7, (at % 7) + Math.max(0, top - 1));
  const alternatives = top > 0 ? [bare(token, logprob), ...others.map((w, k) => bare(token.startsWith(' ') ? ` ${w}` : w, Number((logprob - 1.5 - k).toFixed(4))))] : [];
  return { ...bare(token, logprob), top_logprobs: alternatives };
}

/** A choice's `logprobs` object for the tokens `pieces`, numbered from `from`. */
export function choiceLogprobs(pieces: readonly string[], top: number, from = 0): { content: TokenLogprob[]; refusal: null } {
  return { content: pieces.map((p, i) => tokenLogprob(p, from + i, top)), refusal: null };
}
