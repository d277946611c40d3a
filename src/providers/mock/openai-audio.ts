// Spoken chat answers (`modalities: ["text", "audio"]`), as OpenAI's audio models give them: the message's
// `audio` object (id, base64 data, expiry, transcript) instead of `content`, and usage that counts the
// audio apart (`completion_tokens_details.audio_tokens`, `prompt_tokens_details.audio_tokens` for audio
// sent), which OpenAI bills at its audio rates. Streamed, `delta.audio` carries the id, then transcript
// and data pieces, then the expiry.
import { mockId } from './mock-ids.js';
import { mockTokens } from './mock-text.js';

/** Of a spoken answer's completion tokens, one in this many is its transcript's; the rest are audio. */
const TOKENS_PER_TRANSCRIPT_TOKEN = 5;
/** Bytes of (silent) 16-bit PCM per audio token in the mock's data: 24 kHz mono at ~10 tokens a second. */
const PCM_BYTES_PER_TOKEN = 4800;
/** How long OpenAI keeps a spoken answer for later turns (`expires_at`). */
const AUDIO_TTL_SECONDS = 3600;

/** One choice's spoken answer of `tokens` completion tokens. */
export interface SpokenAnswer {
  id: string;
  transcript: string[];
  /** Completion tokens that are audio (the rest are the transcript's). */
  audioTokens: number;
  /** The audio, base64. */
  data: string;
  expiresAt: number;
}

export function spokenAnswer(tokens: number, offset: number, created: number): SpokenAnswer {
  const transcriptTokens = Math.ceil(tokens / TOKENS_PER_TRANSCRIPT_TOKEN);
  const audio = tokens - transcriptTokens;
  return {
    id: mockId('audio_', 32),
    transcript: mockTokens(transcriptTokens, offset),
    audioTokens: audio,
    data: Buffer.alloc(audio * PCM_BYTES_PER_TOKEN).toString('base64'),
    expiresAt: created + AUDIO_TTL_SECONDS,
  };
}

/** The message of a non-streamed spoken answer. */
export function spokenMessage(a: SpokenAnswer): Record<string, unknown> {
  return {
    role: 'assistant',
    content: null,
    refusal: null,
    annotations: [],
    audio: { id: a.id, data: a.data, expires_at: a.expiresAt, transcript: a.transcript.join('') },
  };
}

/** The `delta.audio` objects of a streamed spoken answer, in order. */
export function spokenDeltas(a: SpokenAnswer): Array<Record<string, unknown>> {
  const deltas: Array<Record<string, unknown>> = [{ id: a.id, transcript: '' }];
  const pieces = a.transcript.length;
  // The audio data in as many pieces as the transcript, each after its words.
  const step = Math.ceil(a.data.length / 4 / Math.max(1, pieces)) * 4;
  for (let i = 0; i < pieces; i++) {
    deltas.push({ transcript: a.transcript[i] });
    const data = a.data.slice(i * step, (i + 1) * step);
    if (data.length > 0) deltas.push({ data });
  }
  deltas.push({ expires_at: a.expiresAt });
  return deltas;
}
