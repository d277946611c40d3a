// `metadata` tags through a real call: OpenAI's limits (values up to 512 characters) are accepted and
// recorded in the ledger row's tags; one character more is a 400 naming the limit. A lone UTF-16
// surrogate (`"\ud800"` is valid JSON) is recorded as U+FFFD.
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

describe('metadata tags on a real call', () => {
  const gateway = useUsageGateway(config);

  it('records a 512-character metadata value in the ledger tags', async () => {
    const value = 'x'.repeat(512);
    const res = await chat(gateway().url, 'tg-alice', { model: 'gpt-4o', max_tokens: 10, metadata: { trace: value, 'customer id': 'c-1' } }, { 'x-tollgate-tags': 'env=staging' });
    expect(res.status).toBe(200);
    const id = res.headers.get('x-tollgate-request-id')!;
    await gateway().usage.writer.flush();
    const [row] = await gateway().usage.ledger.rows({ requestIds: [id] });
    expect(row.tags).toEqual({ trace: value, 'customer id': 'c-1', env: 'staging' });
  });

  it('refuses a 513-character metadata value with a clear 400', async () => {
    const res = await chat(gateway().url, 'tg-alice', { model: 'gpt-4o', max_tokens: 10, metadata: { trace: 'x'.repeat(513) } });
    expect(res.status).toBe(400);
    const err = (res.body as { error: { message: string; param?: string } }).error;
    expect(err.message).toContain("metadata: the value of 'trace' must be at most 512 characters (it has 513).");
    expect(err.param).toBe('metadata');
  });
});

describe('a metadata value with a lone surrogate, on the PostgreSQL ledger', () => {
  // PostgreSQL's jsonb refuses one; the row was retried for ever at the head of the write queue, and no later
  // call reached the ledger (reports, the dashboard and the counter rebuild lost them).
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
