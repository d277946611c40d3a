// OpenAI client → OpenAI-format upstream: bodies pass through untouched except the model, the output
// allowance, and (for streams) `stream_options.include_usage`, which the gateway asks for itself unless the
// provider refuses the field (`stream_usage: false`, or learnt: stream-options-refusal.ts).
import { asksForReasoning, billedTools, EchoedPrompts, findServiceTier, legacyPrompts, OpenAIChatStream, ResponsesStream, openAIUsage, predictionText, responseText, toolCallBound, toolCallsInBody } from '../providers/openai/index.js';
import type { OutputWording } from '../limits/refusal-error.js';
import { countTextTokens } from '../tokens/index.js';
import type { OutputText } from '../tokens/choice-counter.js';
import { parseObject, type JsonObject } from '../providers/usage.js';
import { copyBodyFor, withUsageIncluded } from './body-copy.js';
import type { ClientBody, Exchange, ExchangeInput } from './exchange.js';
import { findUsage } from './find-usage.js';
import { applyOutputLimit, isReasoningModel, outputCapField, requestedOutput, RESPONSES_MIN_OUTPUT } from './request-shape.js';

/** Upstream bodies larger than this are not parsed for their text (counted from the raw bytes instead). */
const MAX_PARSED_BODY = 64 * 1024 * 1024;

/** OpenAI's `max_tokens` default on the legacy completions endpoint. */
const LEGACY_COMPLETIONS_DEFAULT = 16;

/** Both chat caps sent, with different values. */
function twoCapsDiffer(body: JsonObject): boolean {
  return typeof body.max_tokens === 'number' && typeof body.max_completion_tokens === 'number' && body.max_tokens !== body.max_completion_tokens;
}

/** How many completions one call generates: each gets the per-choice max_tokens. */
function choicesOf(endpoint: string, body: JsonObject): number {
  const int = (v: unknown): number => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : 1);
  if (endpoint === 'chat') return int(body.n);
  if (endpoint !== 'completions') return 1;
  const prompts = legacyPrompts(body.prompt).length;
  // best_of completions are generated (and billed) server-side, n of them returned.
  return prompts * Math.max(int(body.n), int(body.best_of));
}

/** The choices a chat or legacy completions answer returns: `n` of each prompt (best_of's others stay server-side). */
function returnedChoices(endpoint: string, body: JsonObject): number {
  const n = typeof body.n === 'number' && Number.isInteger(body.n) && body.n > 0 ? body.n : 1;
  return endpoint === 'completions' ? legacyPrompts(body.prompt).length * n : n;
}

/** Why a call's output cap cannot be lowered below `least`, and what would lower that, when more than one token. */
function leastReason(endpoint: string, least: number, choices: number, predicted: number): OutputWording['least'] {
  if (endpoint === 'responses') return least > 1 ? { why: `the Responses API takes no max_output_tokens below ${least}` } : undefined;
  if (least <= 1) return undefined;
  const why: string[] = [];
  const fix: string[] = [];
  if (choices > 1) {
    why.push(`one token for each of its ${choices} choices`);
    fix.push(endpoint === 'completions' ? 'ask for fewer choices (n, best_of, prompts)' : 'ask for fewer choices (n)');
  }
  if (predicted > 0) {
    why.push(`the ${predicted} tokens of its prediction`);
    fix.push('leave out the prediction');
  }
  return { why: why.join(' and '), fix: fix.join(' or ') };
}

/** The native OpenAI exchange for chat, completions, embeddings and responses. */
export function openAIExchange({ endpoint, body, upstreamModel, provider }: ExchangeInput): Exchange {
  const choices = choicesOf(endpoint, body);
  const perChoice = requestedOutput(body, endpoint);
  // Legacy completions without max_tokens stop at OpenAI's documented default of 16, not at ours; the 16
  // is sent, as other OpenAI-compatible servers (Ollama, some vLLM builds) have no such default.
  const implicit = endpoint === 'completions' && perChoice === undefined ? LEGACY_COMPLETIONS_DEFAULT : undefined;
  const asked = perChoice === undefined ? (implicit === undefined ? undefined : implicit * choices) : perChoice * choices;
  // Two caps that disagree: the upstream might honour the larger, so both are sent as the grant.
  const capsDisagree = endpoint === 'chat' && twoCapsDiffer(body);
  const stream = body.stream === true && endpoint !== 'embeddings';
  // `null` is no options at all (as OpenAI reads it; clients that serialise unset fields send it).
  const streamOptions = (body.stream_options ?? undefined) as JsonObject | undefined;
  const clientWantsUsage = streamOptions?.include_usage === true;
  // The Responses API always reports usage at the end; chat and completions do only when asked. A provider
  // that refuses `stream_options` gets the client's own, if any, as sent: its streams are settled from the
  // gateway's count of the output.
  const asksUsage = stream && endpoint !== 'responses' && provider.streamUsage !== false;
  // A prediction's rejected tokens are billed as output besides what the cap bounds: the reservation holds
  // the prediction's size on top of the cap sent upstream (unseen-billing.ts).
  const predicted = endpoint === 'chat' && body.prediction !== undefined ? countTextTokens(predictionText(body), upstreamModel) : 0;
  /** Each choice's cap for a grant of `output` tokens in all (the prediction's share set aside). */
  const split = (output: number): number => Math.max(1, Math.floor((output - predicted) / choices));
  // The gateway reads `metadata` as the call's tags (tags.ts), but OpenAI refuses it where it means nothing:
  // chat completions take it only to label a stored completion ("The 'metadata' parameter is only allowed
  // when 'store' is enabled."), and legacy completions and embeddings have no such field ("Unrecognized
  // request argument supplied: metadata", even when null). Sent on, every tagged call would fail with a 400,
  // so it stays behind there; the Responses API (and chat with `store: true`) label the stored object with it.
  const metadataStaysBehind = endpoint === 'completions' || endpoint === 'embeddings'
    ? body.metadata !== undefined
    : endpoint === 'chat' && body.metadata !== undefined && body.metadata !== null && body.store !== true;
  // Web and file search calls are billed per call: counted from the answer when the request offers them.
  const reasoning = isReasoningModel(upstreamModel, provider);
  const tools = endpoint === 'responses' ? billedTools(body, reasoning) : undefined;
  // A stream is held to a grant below the Responses API's floor of 16 by cutting it, which a reasoning
  // model's thinking (never streamed, billed all the same) escapes, and so does a background response (it
  // goes on at the provider, and is followed to its end): such a stream gets the floor too.
  const cuttable = stream && body.background !== true && !reasoning && !asksForReasoning(endpoint, body);
  // Each choice gets at least one token upstream; a Responses answer that cannot be cut gets at least 16: a
  // grant below that would let the provider produce more than was reserved. (`max_tokens: 0`, taken only
  // with `echo`, generates nothing: no least.)
  const least = endpoint === 'responses' ? (cuttable ? 1 : RESPONSES_MIN_OUTPUT) : perChoice === 0 ? 0 : choices + predicted;
  const wording: OutputWording = { field: outputCapField(body, endpoint), least: leastReason(endpoint, least, choices, predicted) };
  // Legacy completions with `echo: true` start each choice's text with its prompt: input, not output.
  const echoed = endpoint === 'completions' ? EchoedPrompts.of(body) : undefined;
  return {
    upstream: endpoint,
    estimateOn: { endpoint, body },
    ...(tools ? { toolCallBound: toolCallBound(body, tools) } : {}),
    allowance: (defaultMax) =>
      endpoint === 'embeddings'
        ? { output: 0, fromClient: true }
        : {
            // A default below the least (enforcement.default_max_tokens under 16) is raised to it: it is what goes upstream.
            output: (asked ?? Math.max(defaultMax * choices, least - predicted)) + predicted,
            fromClient: perChoice !== undefined,
            least,
            forEach: (n) => n * choices + predicted,
            wording,
          },
    perChoice: split,
    upstreamBody(output) {
      const out = copyBodyFor(upstreamModel, body);
      // The output allowance is sent upstream whenever the client's body does not already hold it (its
      // cap(s), as granted), so the limit holds exactly.
      if (endpoint !== 'embeddings' && (asked !== output - predicted || capsDisagree || implicit !== undefined)) applyOutputLimit(out, endpoint, split(output), reasoning);
      if (asksUsage) out.stream_options = withUsageIncluded(streamOptions);
      // Undefined rather than deleted: JSON.stringify leaves it out, and the object keeps its shape (body-copy.ts).
      if (metadataStaysBehind) out.metadata = undefined;
      return out;
    },
    streamOptionsAdded: asksUsage && streamOptions === undefined,
    // A chat call without a cap gets `max_tokens` from the gateway, unless the model is known to take the other field.
    maxTokensAdded: endpoint === 'chat' && perChoice === undefined && !reasoning,
    unchanged: (output) => upstreamModel === body.model && !stream && !metadataStaysBehind && (endpoint === 'embeddings' || (asked === output - predicted && !capsDisagree && implicit === undefined)),
    streamAdapter: () => (endpoint === 'responses' ? new ResponsesStream(tools) : new OpenAIChatStream(clientWantsUsage, endpoint === 'completions', echoed, returnedChoices(endpoint, body))),
    response(raw): ClientBody {
      const usage = openAIUsage(findUsage(raw));
      const tier = usage && findServiceTier(raw);
      if (tier) usage.serviceTier = tier; // priority and flex are priced differently
      const calls = usage && tools && toolCallsInBody(raw, tools);
      if (calls) usage.toolCalls = calls;
      // A Responses answer may be a 200 carrying the provider's error (`status: "failed"`), which may quote the
      // gateway's key as error answers may (secret-mask.ts): masked as they are. A scan, no copy when clean.
      const body = endpoint === 'responses' ? provider.secrets.bytes(raw) : raw;
      return { body, ...(usage ? { usage } : {}), text: () => (echoed ? echoed.whole(textOf(raw)) : textOf(raw)) };
    },
    upstreamError: (raw) => raw,
  };
}

function textOf(raw: Buffer): OutputText {
  const parsed = raw.length <= MAX_PARSED_BODY ? parseObject(raw.toString('utf8')) : undefined;
  return parsed ? responseText(parsed) : raw.toString('utf8');
}
