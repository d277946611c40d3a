// Review of audio pricing (8e42159) on a PostgreSQL ledger that an earlier release wrote (schema version 8):
// the gateway migrates it, the old rows read no audio, a spoken answer to audio is stored with its audio
// counts and priced at the audio rates, and `tollgate usage` and the money-limit audit agree with the rows.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { auditCounters } from '../src/ledger/audit.js';
import { PriceBook } from '../src/ledger/price-book.js';
import { usageReport } from '../src/ledger/usage-report.js';
import { gptAudioConfig } from './helpers/audio-calls.js';
import { VERSION_BEFORE_AUDIO_TOKENS, writeLedgerAtVersion } from './helpers/ledger-at-version.js';
import { postgresPlace } from './helpers/ledgers.js';
import { sampleRow } from './helpers/sample-row.js';
import { usageOfRow } from './helpers/usage-of-row.js';
import { useUsageGateway } from './helpers/usage-gateway.js';

const config = (ledgerUrl: string): string => gptAudioConfig(ledgerUrl, { p: 100 });

const START = Date.UTC(2026, 11, 6, 9);
// 5 seconds of sound at the lowest bit rate the estimator assumes for non-WAV data: 100 audio tokens.
const AUDIO = Buffer.alloc(5000, 1).toString('base64');

describe('audio on a PostgreSQL ledger written at the previous schema version', () => {
  const old = sampleRow({ ts: START - 3_600_000, requestId: 'before-audio', organization: 'default', project: 'p', model: 'gpt-audio', provider: 'openai' });
  const gw = useUsageGateway(config, {
    startMs: START,
    place: async () => {
      const place = await postgresPlace();
      await writeLedgerAtVersion(place, VERSION_BEFORE_AUDIO_TOKENS.postgres, [old]);
      return place;
    },
  });

  it('stores and prices audio rows, and reports agree with them', async () => {
    const client = new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: 'tg-p', maxRetries: 0 });
    const messages = [{ role: 'user', content: [{ type: 'text', text: 'Answer this' }, { type: 'input_audio', input_audio: { data: AUDIO, format: 'mp3' } }] }];
    const res = await client.chat.completions.create({ model: 'gpt-audio', modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'pcm16' }, messages, stream: true } as never).withResponse();
    for await (const _ of res.data as unknown as AsyncIterable<unknown>) void _;
    const g = gw();
    await g.usage.writer.flush();
    const rows = await g.usage.ledger.rows({});
    const before = rows.find((r) => r.requestId === 'before-audio')!;
    expect(before.audioInputTokens).toBe(0);
    expect(before.audioOutputTokens).toBe(0);
    const spoken = rows.find((r) => r.requestId === res.request_id)!;
    expect(spoken.audioInputTokens).toBe(100);
    expect(spoken.audioOutputTokens).toBe(8);
    expect(spoken.costUsd).toBeCloseTo(((spoken.inputTokens - 100) * 2.5 + 100 * 32 + 2 * 10 + 8 * 64) / 1e6, 12);
    expect(new PriceBook(g.gateway.policy.pricing).cost('openai', 'gpt-audio', usageOfRow(spoken))).toBeCloseTo(spoken.costUsd, 15);

    const report = await usageReport(g.usage.ledger, { sinceMs: START - 86_400_000, untilMs: START + 86_400_000, by: ['model'], timezone: 'UTC' });
    expect(report.totals.costUsd).toBeCloseTo(before.costUsd + spoken.costUsd, 9);
    const line = (await auditCounters(g.usage.ledger, g.gateway.policy, g.store, () => g.clock.now())).lines.find((l) => l.limit === 'project:p:daily')!;
    expect(line.drift).toBe(0);
    // The counter was rebuilt from the migrated ledger at start (the earlier row), then counted the call.
    expect(line.counter).toBeCloseTo(before.costUsd + spoken.costUsd, 12);
  });
});
