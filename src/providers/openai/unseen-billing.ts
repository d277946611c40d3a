// OpenAI request features that make the provider bill tokens the request body does not show, or bill
// output beyond the cap the gateway sends. Each is known from one property of the parsed body (or the
// model's name), so the checks cost nothing on calls that do not use them.
//
// - Hidden input: the Responses API's built-in tools run inside the provider and put what they found into
//   the context, billed as input (web search results, file search chunks, an MCP server's tool list and
//   results, code interpreter output, generated images); a reusable `prompt` template's content is billed
//   input the body names only by id; Chat Completions search models read web results into the context
//   (with or without `web_search_options`); an assistant message that names an earlier spoken answer by
//   `audio.id` brings that audio back as input. Such calls reserve an allowance, as Anthropic's server tools do
//   (../anthropic/server-tools.ts). Client-executed tools (`function`, `computer_use_preview`, `local_shell`,
//   `custom`) bring nothing hidden: their results come back in a later request's body.
// - Predicted Outputs: a prediction's rejected tokens "are still counted in the total completion tokens
//   for purposes of billing" (the API reference), on top of the answer itself; at most the prediction's
//   own size, which is reserved as output besides the cap sent upstream.
// - Background responses: the POST answers `status: "queued"` with `usage: null` and the provider keeps
//   generating, up to the cap sent, after the gateway has settled; such a call is charged its whole grant.
// - Hidden reasoning: a reasoning model's thinking is billed as output and never shown, so where the provider
//   does not report the usage (a stream cut short, a server that sends none) the whole grant is charged.
// - Spoken answers: a chat call that asks for audio output (`modalities: ["text", "audio"]`) is billed its
//   audio as output tokens, which reach the client as base64 `audio.data` that no tokenizer counts (the
//   transcript is a fraction of them): without the provider's usage, it is charged its whole grant too.
import type { UpstreamEndpoint } from '../provider.js';
import type { JsonObject, Usage } from '../usage.js';

/** Responses built-in tools whose results the provider adds to the context (and bills as input). */
const HOSTED_TOOLS: ReadonlySet<string> = new Set(['file_search', 'mcp', 'code_interpreter', 'image_generation']);

/** `web_search`, `web_search_preview` and their dated versions (`web_search_preview_2025_03_11`, ...). */
const WEB_SEARCH = /^web_search/;

/** Chat Completions models that search the web on every call: gpt-4o-search-preview, gpt-5-search-api, ... */
const SEARCH_MODEL = /-search-(preview|api)(-|$)/;

/** Chat Completions models that speak (gpt-4o-audio-preview, gpt-audio, ...): only their answers have an audio id. */
const AUDIO_MODEL = /(^|-)audio(-|$)/i;

/** Whether a model name is one of an audio model (gpt-audio, gpt-4o-audio-preview, gpt-audio-mini-2025-12-15...). */
export function isAudioModel(model: string): boolean {
  return AUDIO_MODEL.test(model);
}

/** Whether a call lets the provider bring billed input into it that its body does not show. */
export function bringsHiddenInput(endpoint: UpstreamEndpoint, body: JsonObject, upstreamModel: string): boolean {
  if (endpoint === 'chat') {
    if (body.web_search_options !== undefined || SEARCH_MODEL.test(upstreamModel)) return true;
    // The messages are walked only for an audio model, so other chat calls pay one regex test.
    return isAudioModel(upstreamModel) && Array.isArray(body.messages) && body.messages.some(referencesAudio);
  }
  if (endpoint !== 'responses') return false;
  // A prompt template is named by id; its messages (and tools) are the provider's.
  if (body.prompt !== undefined && body.prompt !== null) return true;
  if (!Array.isArray(body.tools)) return false;
  return body.tools.some((t) => {
    const type = (t as JsonObject | null)?.type;
    return typeof type === 'string' && (HOSTED_TOOLS.has(type) || WEB_SEARCH.test(type));
  });
}

/** An assistant message carrying an earlier answer's audio by id (`{role: "assistant", audio: {id}}`). */
function referencesAudio(message: unknown): boolean {
  const audio = (message as JsonObject | null)?.audio;
  return typeof audio === 'object' && audio !== null && typeof (audio as JsonObject).id === 'string';
}

/**
 * Whether a call asks for output the provider bills as tokens but no text shows: a chat call for a spoken
 * answer (`modalities` with `audio`, or the `audio` output parameters). Without the provider's usage such a
 * call is charged its whole grant, as a reasoning model's is (withHiddenReasoning).
 */
export function answersInAudio(endpoint: UpstreamEndpoint, body: JsonObject): boolean {
  if (endpoint !== 'chat') return false;
  if (Array.isArray(body.modalities) && body.modalities.includes('audio')) return true;
  return typeof body.audio === 'object' && body.audio !== null;
}

/**
 * Whether a call asks for hidden reasoning whatever its model is called (an Azure deployment or a router's
 * alias the gateway cannot know by name): `reasoning_effort` on chat, `reasoning` on the Responses API,
 * which models that do not reason refuse; effort `none` thinks not at all. Without the provider's usage
 * such a call is charged its whole grant, as a model known to reason is (withHiddenReasoning).
 */
export function asksForReasoning(endpoint: UpstreamEndpoint, body: JsonObject): boolean {
  if (endpoint === 'chat') return typeof body.reasoning_effort === 'string' && body.reasoning_effort !== 'none';
  if (endpoint !== 'responses') return false;
  const reasoning = body.reasoning;
  return typeof reasoning === 'object' && reasoning !== null && (reasoning as JsonObject).effort !== 'none';
}

/** The text of a chat body's `prediction` (`{type: "content", content: string | text parts}`); '' for none. */
export function predictionText(body: JsonObject): string {
  const content = (body.prediction as JsonObject | null | undefined)?.content;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((part) => ((part as JsonObject | null)?.type === 'text' && typeof (part as JsonObject).text === 'string' ? ((part as JsonObject).text as string) : '')).join('');
}

/** Whether a Responses call runs in the background: answered at once, generated after the gateway settled. */
export function runsInBackground(endpoint: UpstreamEndpoint, body: JsonObject): boolean {
  return endpoint === 'responses' && body.background === true;
}

/**
 * What a background call is charged when the provider did not report its usage: everything reserved
 * (the input estimate and the whole output grant), or what it did report where that is more. Marked as
 * estimated: the ledger row says the gateway did not see the real figures.
 */
export function fullGrantUsage(reserved: { input: number; output: number }, seen?: Usage): Usage {
  return {
    input: Math.max(reserved.input, seen?.input ?? 0),
    output: Math.max(reserved.output, seen?.output ?? 0),
    cachedInput: seen?.cachedInput ?? 0,
    source: 'estimated',
  };
}

/**
 * What a reasoning model's call is charged when the provider did not report its usage (a stream cut short,
 * a server that sends none): its hidden reasoning tokens are billed as output and no text shows them, so
 * the output is the whole grant (the provider's cap on them), or what was seen where that is more. The
 * input stays as counted. Marked as estimated.
 */
export function withHiddenReasoning(seen: Usage, grant: number): Usage {
  return { ...seen, output: Math.max(seen.output, grant), source: 'estimated' };
}
