// `tollgate audit` compares each counter with the ledger, but listed only the limits the ledger had rows
// for in their window. A counter whose every row was lost (the rows a kill -9 loses, a row refused) was
// not audited at all: a user's only call of the day, its row gone, left that user's counter at 28 tokens
// with 0 in the ledger, and the audit said "1 limit, 0 drifting" (the other user's limit) and exited 0.
// Every configured key's limits are now read; one the ledger has nothing for is listed when its counter
// holds something.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { AuditReport } from '../src/ledger/audit.js';
import { useUsageGateway } from './helpers/usage-gateway.js';

let ledgerFile = '';
const gw = useUsageGateway((ledger) => {
  ledgerFile = ledger.slice('sqlite:'.length);
  return `
server: {timezone: UTC, admin_key: adm}
storage: {ledger: "${ledger}"}
providers: {demo: {type: mock, output_tokens: 20}}
users:
  t1: {daily_limit: 5000}
routes:
  main:
    chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]
keys:
  - {id: alice, key: tg-alice, user: alice, tier: t1}
  - {id: bob, key: tg-bob, user: bob, tier: t1}
  - {id: carol, key: tg-carol, user: carol, tier: t1}
`;
});

async function call(url: string, key: string): Promise<void> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
  });
  expect(res.status).toBe(200);
  await res.text();
}

describe('tollgate audit: a counter without any ledger row', () => {
  it('reports the drift of a limit whose only row was lost', async () => {
    const g = gw();
    await call(g.url, 'tg-alice');
    await call(g.url, 'tg-bob');
    await g.usage.writer.flush();
    const bobs = (await g.usage.ledger.rows({})).filter((r) => r.user === 'bob');
    expect(bobs).toHaveLength(1);
    const tokens = bobs[0].inputTokens + bobs[0].outputTokens;
    // The row is lost, as the rows buffered when a gateway is killed are.
    const db = new Database(ledgerFile);
    try {
      expect(db.prepare('DELETE FROM tollgate_calls WHERE request_id = ?').run(bobs[0].requestId).changes).toBe(1);
    } finally {
      db.close();
    }

    const res = await fetch(`${g.url}/api/audit`, { headers: { authorization: 'Bearer adm' } });
    expect(res.status).toBe(200);
    const audit = (await res.json()) as AuditReport;
    expect(audit.drifting).toBe(1);
    expect(audit.lines.find((l) => l.limit === 'user:bob:daily')).toMatchObject({ counter: tokens, ledger: 0, drift: tokens });
    // Alice's counter matches her row; carol, who made no call, has nothing to report.
    expect(audit.lines.find((l) => l.limit === 'user:alice:daily')).toMatchObject({ drift: 0 });
    expect(audit.lines.some((l) => l.limit === 'user:carol:daily')).toBe(false);
  });
});
