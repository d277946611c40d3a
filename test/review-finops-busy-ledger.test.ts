// The dashboard and the audit on a busy gateway. Both flush the ledger writer before reading the ledger,
// and flush() wrote batches until the buffer was empty: while calls keep finishing at least as fast as a
// batch is written (a PostgreSQL ledger under steady traffic), it never is, and the flush never ended.
// Seen on PostgreSQL with 8 clients calling in a loop: 11 of 11 dashboard requests unanswered after 8 s
// (the dashboard's flush is outside its 10 s report timeout: it hung for as long as the traffic lasted),
// and the audit a 503 every time. A flush now writes the rows buffered when it was called, no more.
import { describe, expect, it } from 'vitest';
import { LedgerWriter } from '../src/ledger/batch-writer.js';
import { postgresPlace } from './helpers/ledgers.js';
import { sampleRow, T0 } from './helpers/sample-row.js';
import { useUsageGateway } from './helpers/usage-gateway.js';
import { withTimeout } from '../src/util/with-timeout.js';
import { useLedger } from './helpers/use-ledger.js';

describe('LedgerWriter.flush while rows keep arriving', () => {
  const { ledger } = useLedger();

  it('writes the rows buffered when it was called and returns, though later rows keep coming', async () => {
    // Calls finishing while each batch is written: five more rows arrive during every write (set before the
    // writer is made, which reads the ledger's write method then).
    let arriving = true;
    let seq = 0;
    const target = ledger() as unknown as Record<string, unknown>;
    const method = typeof ledger().appendPacked === 'function' ? 'appendPacked' : 'append';
    const write = (target[method] as (x: unknown) => Promise<void>).bind(ledger());
    target[method] = async (x: unknown): Promise<void> => {
      // Once the write has started (not inside the writer's own call to it).
      await null;
      if (arriving) arrive(5);
      await write(x);
    };
    const writer = new LedgerWriter(ledger(), { flushIntervalMs: 1000, batchSize: 5, maxBufferedRows: 100_000 });
    const arrive = (n: number): void => {
      for (let i = 0; i < n; i++) writer.push(sampleRow({ ts: T0 + seq, requestId: `row-${seq++}` }));
    };
    try {
      arrive(12);
      const flushed = await withTimeout(writer.flush(), 3000, 'flush did not return within 3 s').then(
        () => undefined,
        (err: Error) => err.message,
      );
      expect(flushed).toBeUndefined();
      // The twelve rows buffered when flush() was called are in the ledger.
      const stored = new Set((await ledger().rows({ sinceMs: T0, untilMs: T0 + 1_000_000 })).map((r) => r.requestId));
      for (let i = 0; i < 12; i++) expect(stored.has(`row-${i}`)).toBe(true);
    } finally {
      arriving = false;
      target[method] = write;
      await writer.close();
    }
    // Closing still writes every row, the late ones too.
    const all = await ledger().rows({ sinceMs: T0, untilMs: T0 + 1_000_000 });
    expect(all).toHaveLength(seq);
  });
});

describe('dashboard and audit of a busy gateway on PostgreSQL', () => {
  const gw = useUsageGateway(
    (ledger) => `
server: {timezone: UTC, admin_key: adm}
storage: {ledger: "${ledger}"}
providers: {demo: {type: mock, output_tokens: 20}}
pricing:
  "demo/gpt-4o": {input: 2.5, output: 10}
organization: {daily_cap: 1000000000}
routes:
  main:
    chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]
keys:
  - {id: alice, key: tg-alice, user: alice}
`,
    { place: postgresPlace },
  );

  it('answers both while clients keep calling', { timeout: 60_000 }, async () => {
    const g = gw();
    let calling = true;
    let calls = 0;
    const client = async (): Promise<void> => {
      while (calling) {
        const res = await fetch(`${g.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: 'Bearer tg-alice', 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
        });
        await res.text();
        calls++;
      }
    };
    const clients = Array.from({ length: 8 }, client);
    const get = async (path: string): Promise<{ status: number; body: Record<string, any> } | string> => {
      try {
        const res = await fetch(`${g.url}${path}`, { headers: { authorization: 'Bearer adm' }, signal: AbortSignal.timeout(8000) });
        return { status: res.status, body: (await res.json()) as Record<string, any> };
      } catch (err) {
        return `no answer: ${(err as Error).message}`;
      }
    };
    try {
      // Steady traffic first: the writer's buffer refills during each write.
      while (calls < 1000) await new Promise((r) => setTimeout(r, 20));
      const dashboard = await get('/api/tokens/dashboard?org=default');
      const audit = await get('/api/audit');
      expect(dashboard).toMatchObject({ status: 200 });
      expect(audit).toMatchObject({ status: 200 });
      const d = (dashboard as { body: Record<string, any> }).body;
      expect(d.current_usage.this_month.requests).toBeGreaterThanOrEqual(1000);
    } finally {
      calling = false;
      await Promise.all(clients);
    }
  });
});
