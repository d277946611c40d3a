// A row the database refuses for what it holds (PostgreSQL takes no NUL, and no lone surrogate, in text
// or jsonb; an OpenAI-compatible server may put one in a response id) must not stop the ledger: retried
// as part of its batch, it failed for ever, and every later call's row waited behind it until the buffer
// overflowed. The batch is halved until the refused row is alone; it alone is set aside, and named.
import { expect, it } from 'vitest';
import { LedgerWriter } from '../src/ledger/batch-writer.js';
import { postgresPlace } from './helpers/ledgers.js';
import { sampleRow, T0 } from './helpers/sample-row.js';
import { useLedger } from './helpers/use-ledger.js';

const { ledger } = useLedger({ place: postgresPlace });

async function storedIds(prefix: string): Promise<string[]> {
  const found = await ledger().rows({ sinceMs: 0, untilMs: T0 + 1_000_000, limit: 1000 });
  return found.map((r) => r.requestId).filter((id) => id.startsWith(prefix)).sort();
}

it('writes every other row of the batch, sets the refused one aside and names it, and goes on writing later rows', async () => {
  const refused: string[] = [];
  const w = new LedgerWriter(ledger(), { flushIntervalMs: 50, batchSize: 10, maxBufferedRows: 1000, onRefused: (row) => refused.push(row.requestId) });
  for (let i = 0; i < 10; i++) {
    const bad = i === 6 ? { providerResponseId: 'chatcmpl-\u0000x' } : i === 8 ? { tags: { note: 'lone \ud800' } } : {};
    w.push(sampleRow({ ts: T0 + i, requestId: `mixed-${i}`, ...bad }));
  }
  await w.flush();
  expect(refused.sort()).toEqual(['mixed-6', 'mixed-8']);
  expect(await storedIds('mixed-')).toEqual(['mixed-0', 'mixed-1', 'mixed-2', 'mixed-3', 'mixed-4', 'mixed-5', 'mixed-7', 'mixed-9']);
  expect(w.stats()).toMatchObject({ pending: 0, written: 8, dropped: 2 });
  expect(w.failing).toBe(false);

  w.push(sampleRow({ ts: T0 + 20, requestId: 'later-0' }));
  await w.close();
  expect(await storedIds('later-')).toEqual(['later-0']);
});

it('still keeps and retries a batch the database fails to write as a whole (no row is set aside for that)', async () => {
  const refused: string[] = [];
  const w = new LedgerWriter(ledger(), { flushIntervalMs: 50, batchSize: 10, maxBufferedRows: 1000, onRefused: (row) => refused.push(row.requestId) });
  for (let i = 0; i < 3; i++) w.push(sampleRow({ ts: T0 + 30 + i, requestId: `whole-${i}` }));
  const append = ledger().append.bind(ledger());
  let calls = 0;
  // The connection failing once (not a row's content): SQLSTATE 08006, connection failure.
  ledger().append = async (rows) => {
    if (calls++ === 0) throw Object.assign(new Error('connection failure'), { code: '08006' });
    return append(rows);
  };
  try {
    await expect(w.flush()).rejects.toThrow('connection failure');
    await w.close();
  } finally {
    ledger().append = append;
  }
  expect(refused).toEqual([]);
  expect(await storedIds('whole-')).toEqual(['whole-0', 'whole-1', 'whole-2']);
  expect(w.stats()).toMatchObject({ pending: 0, written: 3, dropped: 0 });
});
