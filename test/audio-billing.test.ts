// OpenAI's audio models bill audio tokens at their own rates (gpt-audio: $32 / $64 per million audio
// tokens against $2.50 / $10 for text). Regression test: the gateway read only a call's total tokens, so
// a spoken answer was priced as text (over 4x under in the first case below), its ledger row could not
// explain what OpenAI charged, and a money limit let spoken calls pass it by up to 6.4x.
// Through the official `openai` client, in front of the mock upstream, which answers spoken requests as
// OpenAI does (`message.audio`, `delta.audio`, `audio_tokens` in both usage details).
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { auditCounters } from '../src/ledger/audit.js';
import { PriceBook } from '../src/ledger/price-book.js';
import { audioTokens } from '../src/tokens/media-cost.js';
import { gptAudioConfig, wavSecond } from './helpers/audio-calls.js';
import { usageOfRow } from './helpers/usage-of-row.js';
import { useUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';

const config = (ledgerUrl: string): string => gptAudioConfig(ledgerUrl, { big: 100, tight: 0.01, tight2: 0.01 });

const WAV = wavSecond();
/** Its audio tokens as the mock upstream (and the gateway's exact count) reckon them: 21, the header included. */
const AUDIO_IN = audioTokens(WAV);
const spoken = { modalities: ['text', 'audio'] as Array<'text' | 'audio'>, audio: { voice: 'alloy' as const, format: 'wav' as const } };
const withAudio: OpenAI.Chat.ChatCompletionMessageParam[] = [
  { role: 'user', content: [{ type: 'text', text: 'What does this say?' }, { type: 'input_audio', input_audio: { data: WAV, format: 'wav' } }] },
];

describe('audio tokens are billed at the audio rates', () => {
  const gw = useUsageGateway(config);
  const openai = (key: string): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: key, maxRetries: 0 });

  /** The counter of `limit` in USD once the ledger has every row, checked against the ledger's own figure. */
  async function counterOf(g: UsageTestGateway, limit: string): Promise<number> {
    await g.usage.writer.flush();
    const line = (await auditCounters(g.usage.ledger, g.gateway.policy, g.store, () => g.clock.now())).lines.find((l) => l.limit === limit)!;
    expect(line.drift).toBe(0);
    return line.counter;
  }

  it('prices a spoken answer to audio, streamed or not, from the audio counts OpenAI reports, and the row explains it', async () => {
    const client = openai('tg-big');
    const plain = await client.chat.completions.create({ model: 'gpt-audio', ...spoken, messages: withAudio }).withResponse();
    const message = plain.data.choices[0]!.message;
    expect(message.content).toBeNull();
    expect(message.audio).toMatchObject({ id: expect.stringMatching(/^audio_/), transcript: expect.any(String), data: expect.any(String) });
    expect(plain.data.usage).toMatchObject({ completion_tokens: 10, prompt_tokens_details: { audio_tokens: AUDIO_IN }, completion_tokens_details: { audio_tokens: 8 } });

    const stream = await client.chat.completions.create({ model: 'gpt-audio', ...spoken, messages: withAudio, stream: true, stream_options: { include_usage: true } }).withResponse();
    let transcript = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream.data) {
      const audio = (chunk.choices[0]?.delta as { audio?: { transcript?: string } } | undefined)?.audio;
      transcript += audio?.transcript ?? '';
      usage = chunk.usage ?? usage;
    }
    expect(transcript).toBe(message.audio!.transcript);
    expect(usage?.completion_tokens_details?.audio_tokens).toBe(8);

    const g = gw();
    await g.usage.writer.flush();
    const rows = await g.usage.ledger.rows({ requestIds: [plain.request_id!, stream.request_id!] });
    expect(rows).toHaveLength(2);
    const prices = new PriceBook(new Map());
    for (const row of rows) {
      expect(row.audioInputTokens, `stream=${row.stream}`).toBe(AUDIO_IN);
      expect(row.audioOutputTokens, `stream=${row.stream}`).toBe(8);
      // Text input at $2.50 and audio input at $32; the transcript's 2 tokens at $10, the audio's 8 at $64.
      const hand = ((row.inputTokens - AUDIO_IN) * 2.5 + AUDIO_IN * 32 + 2 * 10 + 8 * 64) / 1e6;
      expect(row.costUsd, `stream=${row.stream}`).toBeCloseTo(hand, 12);
      expect(row.inputCostUsd, `stream=${row.stream}`).toBeCloseTo(((row.inputTokens - AUDIO_IN) * 2.5 + AUDIO_IN * 32) / 1e6, 12);
      // Priced as text, the same call came to less than a quarter of that.
      expect((row.inputTokens * 2.5 + 10 * 10) / 1e6).toBeLessThan(hand / 4);
      expect(prices.cost(row.provider, row.model, usageOfRow(row))).toBe(row.costUsd);
    }
    // The money limit counted what the ledger says the calls cost.
    expect(await counterOf(g, 'project:big:daily')).toBeCloseTo(rows[0]!.costUsd + rows[1]!.costUsd, 12);
  });

  it('reserves a spoken answer at the audio output price: the clamp leaves it 6.4x fewer output tokens than a text one', async () => {
    const messages = [{ role: 'user' as const, content: 'Say hello' }];
    const text = await openai('tg-tight').chat.completions.create({ model: 'gpt-audio', messages, max_tokens: 2000 }).withResponse();
    const voice = await openai('tg-tight2').chat.completions.create({ model: 'gpt-audio', ...spoken, messages, max_tokens: 2000 }).withResponse();
    const g = gw();
    await g.usage.writer.flush();
    const [textRow] = await g.usage.ledger.rows({ requestIds: [text.request_id!] });
    const [voiceRow] = await g.usage.ledger.rows({ requestIds: [voice.request_id!] });
    // $0.01 = 10,000 µUSD; input at 2.5 µUSD a token, output at 10 (text) or 64 (audio).
    const room = (input: number, perOutputToken: number): number => Math.floor((10_000 - input * 2.5) / perOutputToken + 1e-9);
    expect(Number(text.response.headers.get('x-tollgate-clamped-max-tokens'))).toBe(room(textRow!.reservedInput, 10));
    expect(Number(voice.response.headers.get('x-tollgate-clamped-max-tokens'))).toBe(room(voiceRow!.reservedInput, 64));
    expect(await counterOf(g, 'project:tight2:daily')).toBeCloseTo(voiceRow!.costUsd, 12);
  });

  it('reserves audio input at the audio input price', async () => {
    // What is left of the project's $0.01: a request sending audio has its input reserved at $32 a million, not $2.50.
    const before = await counterOf(gw(), 'project:tight:daily');
    const sent = await openai('tg-tight').chat.completions.create({ model: 'gpt-audio', messages: withAudio, max_tokens: 2000 }).withResponse();
    const g = gw();
    await g.usage.writer.flush();
    const [row] = await g.usage.ledger.rows({ requestIds: [sent.request_id!] });
    const room = Math.floor((10_000 - before * 1e6 - row!.reservedInput * 32) / 10 + 1e-9);
    expect(Number(sent.response.headers.get('x-tollgate-clamped-max-tokens'))).toBe(room);
    expect(row!.audioInputTokens).toBe(AUDIO_IN);
  });
});
