// FinOps QA: a call's free tags must never stop the PostgreSQL ledger. JSON text may carry a lone UTF-16
// surrogate (`"\ud800"` is valid JSON, and OpenAI's SDKs pass it through), but PostgreSQL's jsonb refuses
// one. The row was retried for ever at the head of the write queue, so no later call reached the ledger:
// reports, the dashboard and the counter rebuild all lost them (until the buffer overflowed and dropped
// good rows too).
import { describe, expect, it } from 'vitest';
import { postgresPlace } from './helpers/ledgers.js';
import { chat, useUsageGateway } from './helpers/usage-gateway.js';

const config = (ledger: string): string => `
server: {timezone: UTC}
storage: {ledger: "${ledger}"}
providers:
  demo: {type: mock, output_tokens: 5}
routes:
  main:
    chat_models:
      - {model_id: gpt-4o, model: demo/gpt-4o}
keys:
  - {id: alice, key: tg-alice, user: alice}
`;

describe('a metadata value with a lone surrogate, on the PostgreSQL ledger', () => {
  const gateway = useUsageGateway(config, { place: postgresPlace });

  it('is recorded (the surrogate as U+FFFD), and the calls after it are recorded too', async () => {
    // JSON.stringify writes a lone surrogate as the escape `\ud800`: the body is valid JSON.
    const odd = await chat(gateway().url, 'tg-alice', { model: 'gpt-4o', max_tokens: 10, metadata: { note: 'half \ud800 pair' } });
    expect(odd.status).toBe(200);
    const next = await chat(gateway().url, 'tg-alice', { model: 'gpt-4o', max_tokens: 10 }, { 'x-tollgate-tags': 'feature=after' });
    expect(next.status).toBe(200);
    await gateway().usage.writer.flush();
    const ids = [odd, next].map((r) => r.headers.get('x-tollgate-request-id')!);
    const rows = await gateway().usage.ledger.rows({ requestIds: ids });
    expect(rows.map((r) => r.tags).sort((a, b) => Object.keys(a)[0].localeCompare(Object.keys(b)[0]))).toEqual([{ feature: 'after' }, { note: 'half \ufffd pair' }]);
  });
});
