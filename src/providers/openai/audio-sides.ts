// Which sides of a chat call OpenAI may bill at an audio model's audio rates (list-prices.ts): what a money
// limit reserves at those rates before the answer says how many tokens were audio.
import type { UpstreamEndpoint } from '../provider.js';
import type { JsonObject } from '../usage.js';
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

function sendsAudio(messages: unknown): boolean {
  if (!Array.isArray(messages)) return false;
  for (const m of messages as Array<JsonObject | null>) {
    const audio = m?.audio as JsonObject | null | undefined;
    // An assistant message carrying an earlier answer's audio by id: OpenAI bills that audio as input.
    if (typeof audio?.id === 'string') return true;
    const content = m?.content;
    if (Array.isArray(content) && content.some((part) => (part as JsonObject | null)?.type === 'input_audio')) return true;
  }
  return false;
}
