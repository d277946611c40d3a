// Which sides of a chat call OpenAI may bill at an audio model's audio rates (list-prices.ts): what a money
// limit reserves at those rates before the answer says how many tokens were audio, and what of a call the
// gateway had to count itself (the provider reported no usage) is priced as audio.
import { audioTokens } from '../../tokens/media-cost.js';
import type { UpstreamEndpoint } from '../provider.js';
import type { JsonObject, Usage } from '../usage.js';
import { answersInAudio } from './unseen-billing.js';

/** The sides of a call that may be billed as audio. */
export interface AudioSides {
  /** The request sends audio: `input_audio` parts, or an earlier spoken answer by its `audio.id`. */
  input: boolean;
  /** The request asks for a spoken answer (`modalities` with `audio`, or the `audio` output parameters). */
  output: boolean;
}

/** The sides of `body` that may be billed as audio, or undefined when neither may. */
export function audioSides(endpoint: UpstreamEndpoint, body: JsonObject): AudioSides | undefined {
  if (endpoint !== 'chat') return undefined;
  const input = sendsAudio(body.messages);
  const output = answersInAudio(endpoint, body);
  return input || output ? { input, output } : undefined;
}

/**
 * Usage the gateway counted itself (the provider reported none) with its audio marked, so that it is priced
 * at the audio rates, as OpenAI bills it: priced as text, a spoken answer's whole grant came to 6.4x under
 * on gpt-audio. A spoken answer's output is all taken as audio (its transcript is a fraction of it, and the
 * count is the whole grant: an upper bound, as its reservation is). The input's audio is what its
 * `input_audio` parts count (as the input estimate counted them), plus `referenced`: the tokens reserved for
 * earlier answers' audio the messages name by id, which OpenAI bills as audio input.
 */
export function withCountedAudio(usage: Usage, sides: AudioSides | undefined, body: JsonObject, referenced: number): Usage {
  if (!sides) return usage;
  const out: Usage = { ...usage };
  if (sides.output && usage.output > 0) out.audioOutput = usage.output;
  const audioIn = sides.input ? Math.min(usage.input, sentAudioTokens(body.messages) + (namesEarlierAudio(body.messages) ? referenced : 0)) : 0;
  if (audioIn > 0) out.audioInput = audioIn;
  return out;
}

function sendsAudio(messages: unknown): boolean {
  if (!Array.isArray(messages)) return false;
  // An assistant message carrying an earlier answer's audio by id: OpenAI bills that audio as input.
  if (namesEarlierAudio(messages)) return true;
  for (const m of messages as Array<JsonObject | null>) {
    const content = m?.content;
    if (Array.isArray(content) && content.some((part) => (part as JsonObject | null)?.type === 'input_audio')) return true;
  }
  return false;
}

/** Whether a message carries an earlier spoken answer by its id (`{role: "assistant", audio: {id}}`). */
function namesEarlierAudio(messages: unknown): boolean {
  return Array.isArray(messages) && (messages as Array<JsonObject | null>).some((m) => typeof (m?.audio as JsonObject | null | undefined)?.id === 'string');
}

/** Tokens of the `input_audio` parts of chat messages, counted as the input estimate counts them (tokens/meter.ts). */
export function sentAudioTokens(messages: unknown): number {
  if (!Array.isArray(messages)) return 0;
  let tokens = 0;
  for (const m of messages as Array<JsonObject | null>) {
    const content = m?.content;
    if (!Array.isArray(content)) continue;
    for (const part of content as Array<JsonObject | null>) {
      const data = (part?.input_audio as JsonObject | null | undefined)?.data;
      if (part?.type === 'input_audio' && typeof data === 'string') tokens += audioTokens(data);
    }
  }
  return tokens;
}
