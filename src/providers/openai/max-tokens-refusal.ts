// Reasoning models (o-series, gpt-5) refuse `max_tokens`: "Unsupported parameter: 'max_tokens' is not supported
// with this model. Use 'max_completion_tokens' instead." (param max_tokens, code unsupported_parameter). The
// gateway knows them by name, but an Azure deployment or a router may call one anything. When the gateway
// itself added the cap (the client sent none), such a refusal is the gateway's doing: the call is sent once
// more with `max_completion_tokens`, and the provider remembers the model.
import type { Provider, UpstreamRequest, UpstreamResponse } from '../provider.js';
import { parseObject, type JsonObject } from '../usage.js';
import { readAnswer, type WarnLog } from './stream-options-refusal.js';

/** Error bodies larger than this are not this refusal (and are not parsed here). */
const MAX_REFUSAL_BYTES = 64 * 1024;

/** Whether an upstream answer `status`/`raw` refuses `max_tokens` and asks for `max_completion_tokens`. */
export function refusesMaxTokens(status: number, raw: Buffer): boolean {
  if (status !== 400 || raw.length > MAX_REFUSAL_BYTES) return false;
  const body = parseObject(raw.toString('utf8'));
  const error = body && typeof body.error === 'object' && body.error !== null ? (body.error as JsonObject) : undefined;
  if (!error) return false;
  const message = typeof error.message === 'string' ? error.message : '';
  return (error.param === 'max_tokens' && error.code === 'unsupported_parameter') || (/\bmax_tokens\b/.test(message) && /\bmax_completion_tokens\b/.test(message));
}

/**
 * For a chat call the gateway capped with `max_tokens`, whose upstream answered `answer` with an error: when it
 * refuses the field, the provider learns the model and the call is sent once more with `max_completion_tokens`
 * (the reservation and the row are the one call's); otherwise `answer`, its body already read, as it came.
 */
export async function unlessMaxTokensRefused(provider: Provider, sent: UpstreamRequest, answer: UpstreamResponse, model: string, log: WarnLog): Promise<UpstreamResponse> {
  const { raw, again } = await readAnswer(answer);
  if (!refusesMaxTokens(answer.status, raw)) return again;
  const learnt = provider.takesCompletionTokens?.(model) === true;
  provider.refusedMaxTokens?.(model);
  // Said once per model and process: later calls go with the right field, and the operator can name the model.
  if (!learnt) {
    log.warn(
      { provider: provider.name, model },
      `model ${model} of provider ${provider.name} refused max_tokens: it is treated as a reasoning model from now on (max_completion_tokens, and enforcement.reasoning_default_max_tokens for calls without a cap)`,
    );
  }
  const { max_tokens: cap, ...body } = sent.body;
  return provider.send({ ...sent, body: { ...body, max_completion_tokens: cap }, text: undefined });
}
