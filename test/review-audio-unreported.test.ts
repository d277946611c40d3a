// Review of audio pricing (8e42159): a spoken answer, or a request sending audio, whose usage never came
// (a server that reports none, a stream without its usage chunk) is charged as the gateway counts it: the
// whole output grant (363751c). Those counted tokens were priced as text, though what the provider bills
// them is audio (gpt-audio: $64 against $10 a million output tokens, $32 against $2.50 input): the ledger
// and the money limit's counter came to 6.4x under on the output. The gateway counts them as audio now.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { auditCounters } from '../src/ledger/audit.js';
import { audioTokens } from '../src/tokens/media-cost.js';
import { gptAudioConfig, wavSecond } from './helpers/audio-calls.js';
import { useUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';

const config = (ledgerUrl: string): string => gptAudioConfig(ledgerUrl, { big: 100 });

const WAV = wavSecond();
const AUDIO_IN = audioTokens(WAV);
const GRANT = 300;
const spoken = { modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'wav' } };

describe('audio whose usage never came is priced as audio', () => {
  const gw = useUsageGateway(config);
  const client = (): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-big', maxRetries: 0 });

  async function rowAndCounter(g: UsageTestGateway, requestIds: string[]) {
    await g.usage.writer.flush();
    const rows = await g.usage.ledger.rows({ requestIds });
    const line = (await auditCounters(g.usage.ledger, g.gateway.policy, g.store, () => g.clock.now())).lines.find((l) => l.limit === 'project:big:daily')!;
    expect(line.drift).toBe(0);
    return { rows, counter: line.counter };
  }

  it('charges the whole grant of a spoken answer at the audio output rate, streamed or not', async () => {
    const messages = [{ role: 'user', content: 'Say hello' }];
    const plain = await client().chat.completions.create({ model: 'gpt-audio', ...spoken, messages, max_tokens: GRANT, mock_omit_usage: true } as never).withResponse();
    const streamed = await client().chat.completions.create({ model: 'gpt-audio', ...spoken, messages, max_tokens: GRANT, stream: true, mock_omit_usage: true } as never).withResponse();
    for await (const _ of streamed.data as unknown as AsyncIterable<unknown>) void _;
    const { rows } = await rowAndCounter(gw(), [plain.request_id!, streamed.request_id!]);
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row.usageSource).toBe('estimated');
      expect(row.outputTokens).toBe(GRANT);
      expect(row.audioOutputTokens, `stream=${row.stream}`).toBe(GRANT);
      // 300 output tokens at gpt-audio's $64 audio rate: $0.0192 (was 300 at $10: $0.003).
      expect(row.costUsd - row.inputCostUsd!, `stream=${row.stream}`).toBeCloseTo((GRANT * 64) / 1e6, 12);
    }
  });

  it('charges the audio a request sent at the audio input rate', async () => {
    const messages = [{ role: 'user', content: [{ type: 'text', text: 'What does this say?' }, { type: 'input_audio', input_audio: { data: WAV, format: 'wav' } }] }];
    const sent = await client().chat.completions.create({ model: 'gpt-audio', messages, max_tokens: GRANT, mock_omit_usage: true } as never).withResponse();
    const { rows, counter } = await rowAndCounter(gw(), [sent.request_id!]);
    const row = rows[0]!;
    expect(row.usageSource).toBe('estimated');
    expect(row.audioInputTokens).toBe(AUDIO_IN);
    expect(row.audioOutputTokens).toBe(0);
    // The text at $2.50 and the second of audio (21 tokens) at $32 a million.
    expect(row.inputCostUsd).toBeCloseTo(((row.inputTokens - AUDIO_IN) * 2.5 + AUDIO_IN * 32) / 1e6, 12);
    const all = await gw().usage.ledger.rows({});
    expect(counter).toBeCloseTo(all.reduce((sum, r) => sum + r.costUsd, 0), 12);
  });
});
