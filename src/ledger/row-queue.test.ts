import { describe, expect, it } from 'vitest';
import type { Ledger, LedgerRow } from './ledger.js';
import { rowQueueFor } from './row-queue.js';

// A packing ledger that keeps each written batch as the values it decodes to, and apart from them the
// texts its rows shared (here the parity of their inputTokens).
function packingLedger(): { ledger: Ledger; batches: unknown[][]; shared: unknown[][] } {
  const batches: unknown[][] = [];
  const shared: unknown[][] = [];
  const ledger = {
    packRow: (row: LedgerRow, s: Set<string>) => {
      s.add(JSON.stringify(row.inputTokens % 2 ? 'odd' : 'even'));
      return JSON.stringify([row.requestId, row.inputTokens]);
    },
    appendPacked: async (json: string) => {
      const batch = JSON.parse(json) as unknown[];
      shared.push(batch.pop() as unknown[]);
      batches.push(batch);
    },
  } as unknown as Ledger;
  return { ledger, batches, shared };
}

const row = (i: number, id = `req_${i}`): LedgerRow => ({ requestId: id, inputTokens: i }) as LedgerRow;

describe('packed row queue', () => {
  it('writes batches of at most the batch size, oldest first, as JSON arrays of packed rows and what they share', async () => {
    const { ledger, batches, shared } = packingLedger();
    const queue = rowQueueFor(ledger, 3);
    for (let i = 0; i < 7; i++) queue.push(row(i));
    expect(queue.length).toBe(7);
    while (queue.length > 0) {
      const batch = queue.take();
      await queue.write(batch);
      queue.written(batch);
    }
    expect(batches).toEqual([
      [['req_0', 0], ['req_1', 1], ['req_2', 2]],
      [['req_3', 3], ['req_4', 4], ['req_5', 5]],
      [['req_6', 6]],
    ]);
    // Each shared text once per batch, after its rows.
    expect(shared).toEqual([['even', 'odd'], ['odd', 'even'], ['even']]);
  });

  it('keeps text outside ASCII intact and grows past its first block', async () => {
    const { ledger, batches } = packingLedger();
    const queue = rowQueueFor(ledger, 1000);
    // 200 rows of ~1.2 KB of two- to four-byte UTF-8: several times the first 64 KB block.
    const ids = Array.from({ length: 200 }, (_, i) => `${i} héllo ✓ 😀 "quoted" \\ `.repeat(40));
    ids.forEach((id, i) => queue.push(row(i, id)));
    await queue.write(queue.take());
    expect(batches[0].map((r) => (r as unknown[])[0])).toEqual(ids);
  });

  it('drops the oldest rows, within and across batches, and the rest stay valid JSON', async () => {
    const { ledger, batches } = packingLedger();
    const queue = rowQueueFor(ledger, 4);
    for (let i = 0; i < 10; i++) queue.push(row(i));
    queue.dropOldest(1);
    expect(queue.length).toBe(9);
    queue.dropOldest(4);
    expect(queue.length).toBe(5);
    while (queue.length > 0) await queue.write(queue.take());
    expect(batches.map((b) => b.map((r) => (r as unknown[])[1]))).toEqual([[5, 6, 7], [8, 9]]);
  });

  it('a batch given back after a failed write goes first; rows keep the order they came in', async () => {
    const { ledger, batches } = packingLedger();
    const queue = rowQueueFor(ledger, 4);
    for (let i = 0; i < 2; i++) queue.push(row(i));
    const failed = queue.take();
    queue.push(row(2));
    queue.restore(failed);
    expect(queue.length).toBe(3);
    queue.push(row(3));
    queue.push(row(4));
    while (queue.length > 0) {
      const batch = queue.take();
      await queue.write(batch);
      queue.written(batch);
    }
    expect(batches.map((b) => b.map((r) => (r as unknown[])[1]))).toEqual([[0, 1], [2, 3, 4]]);
  });

  it('a batch given back to an empty queue takes the rows that come next', async () => {
    const { ledger, batches } = packingLedger();
    const queue = rowQueueFor(ledger, 4);
    queue.push(row(0));
    queue.restore(queue.take());
    queue.push(row(1));
    await queue.write(queue.take());
    expect(queue.length).toBe(0);
    expect(batches).toEqual([[['req_0', 0], ['req_1', 1]]]);
  });

  it('a batch written, given back and grown carries the shared texts of all its rows', async () => {
    const { ledger, batches, shared } = packingLedger();
    const queue = rowQueueFor(ledger, 4);
    queue.push(row(0));
    const failed = queue.take();
    await queue.write(failed);
    queue.restore(failed);
    queue.push(row(1));
    await queue.write(queue.take());
    expect(batches).toEqual([[['req_0', 0]], [['req_0', 0], ['req_1', 1]]]);
    expect(shared).toEqual([['even'], ['even', 'odd']]);
  });
});
