// OpenAI-compatible servers that refuse `stream_options`, which the gateway adds to streams to read their usage:
// Azure OpenAI before api-version 2024-06-01 ("Unrecognized request argument supplied: stream_options"), later
// Azure deployments and OpenAI-style strict servers ("Unknown parameter: 'stream_options'."), pydantic servers
// ("Extra inputs are not permitted" at loc body.stream_options, a 422). Such a refusal comes before anything was
// generated, so the call is sent once more without the field, and the provider stops adding it.
import type { Provider, UpstreamRequest, UpstreamResponse } from '../provider.js';
import { parseObject, type JsonObject } from '../usage.js';

/** Request validation errors: the upstream looked at the body and generated nothing. */
const REFUSAL_STATUSES: ReadonlySet<number> = new Set([400, 422]);

/** Error bodies larger than this are not an unknown-field refusal (and are not parsed here). */
const MAX_REFUSAL_BYTES = 64 * 1024;

const NAMES_FIELD = /\bstream_options\b/;

/** Whether an upstream answer `status`/`raw` refuses the request's `stream_options` (it names the field in its error). */
export function refusesStreamOptions(status: number, raw: Buffer): boolean {
  if (!REFUSAL_STATUSES.has(status) || raw.length > MAX_REFUSAL_BYTES) return false;
  const body = parseObject(raw.toString('utf8'));
  if (!body) return false;
  // Where the field's name stands: OpenAI's and Azure's `error.message` / `error.param`, Azure "on your
  // data"'s `error_message`, FastAPI's `detail` (text, or a list of `{loc, msg}`). Never the whole text: a
  // server that quotes the request back in an unrelated error would name the field too.
  const error = typeof body.error === 'object' && body.error !== null ? (body.error as JsonObject) : body;
  const places: unknown[] = [error.message, error.param, body.error_message, body.message];
  if (typeof body.detail === 'string') places.push(body.detail);
  else if (Array.isArray(body.detail)) for (const d of body.detail) if (typeof d === 'object' && d !== null) places.push((d as JsonObject).loc, (d as JsonObject).msg);
  return places.some((p) => (typeof p === 'string' && NAMES_FIELD.test(p)) || (Array.isArray(p) && p.includes('stream_options')));
}

/**
 * For a stream the gateway added `stream_options` to (the client sent none), whose upstream answered `answer`
 * with a status that may be a refusal: when it refuses the field, the provider stops adding it and the call
 * is sent once more without it (the reservation and the row are the one call's); otherwise `answer`, its body
 * already read, as it came.
 */
export async function unlessStreamOptionsRefused(provider: Provider, sent: UpstreamRequest, answer: UpstreamResponse, log: WarnLog): Promise<UpstreamResponse> {
  const { raw, again } = await readAnswer(answer);
  if (!refusesStreamOptions(answer.status, raw)) return again;
  provider.refusedStreamOptions?.();
  // Said once per provider and process (later streams go without the field): its streams' usage is now the
  // gateway's own count, which an operator should know, and can make the default by configuration.
  log.warn(
    { provider: provider.name, status: answer.status },
    `provider ${provider.name} refused stream_options: streams to it are sent without it from now on, and settled from the gateway's count of their output unless the server reports usage anyway (set providers.${provider.name}.stream_usage: false to skip the refused first try)`,
  );
  const { stream_options: _refused, ...body } = sent.body;
  return provider.send({ ...sent, body, text: undefined });
}

/** Where the learnt refusal is said (the request's logger). */
export interface WarnLog {
  warn(obj: object, msg: string): void;
}

/** An error answer's body read whole, and the answer to pass on as it came when it is not the refusal looked for. */
export async function readAnswer(answer: UpstreamResponse): Promise<{ raw: Buffer; again: UpstreamResponse }> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of answer.body) chunks.push(chunk);
  const raw = Buffer.concat(chunks);
  return { raw, again: { status: answer.status, headers: answer.headers, body: once(raw) } };
}

/** A body already read, to be read again. */
async function* once(raw: Buffer): AsyncIterable<Uint8Array> {
  yield raw;
}
