// A gateway's SQLite ledger reads its long queries (the counter rebuild's sums and events, the dashboard's
// and reports' sums, whole rows) on a reader thread (src/ledger/sqlite-reader-thread.ts). On the event loop
// they held every request for as long as SQLite worked: a Redis flush under a ledger of 450,000 rows left
// /health unanswered for 13.3 s during the rebuild. Here a timer every 5 ms stands for the requests: during
// each read it must go on firing, the longest wait between two ticks well under the read's own time.
import { describe, expect, it } from 'vitest';
import { sampleRow } from './helpers/sample-row.js';
import { useLedger } from './helpers/use-ledger.js';

const ROWS = 60_000;
const NOW = Date.UTC(2026, 11, 6, 12);

/** How `read` went: how long it took, and the longest the event loop left a 5 ms timer waiting meanwhile. */
async function timed(read: () => Promise<unknown>): Promise<{ took: number; longestGap: number }> {
  let last = performance.now();
  let longestGap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longestGap = Math.max(longestGap, now - last);
    last = now;
  }, 5);
  const t0 = performance.now();
  await read();
  const took = performance.now() - t0;
  clearInterval(timer);
  longestGap = Math.max(longestGap, performance.now() - last);
  return { took, longestGap };
}

describe('the SQLite ledger reads off the event loop', () => {
  const { ledger } = useLedger({
    seed: async (l) => {
      for (let start = 0; start < ROWS; start += 10_000) {
        await l.append(Array.from({ length: 10_000 }, (_, i) => sampleRow({ requestId: `r${start + i}`, ts: NOW - (start + i) * 10, user: `u${(start + i) % 500}` })));
      }
    },
  });

  it('a rebuild-sized read of every event and of grouped sums keeps the event loop turning', async () => {
    let events = 0;
    const eventsRead = await timed(() => ledger().eachEvent(0, undefined, () => events++));
    expect(events).toBe(ROWS);
    let users = 0;
    const groupsRead = await timed(() => ledger().eachGroup({ groupBy: ['user', 'model'], sinceMs: 0 }, () => users++));
    expect(users).toBe(500);
    const rowsRead = await timed(async () => expect((await ledger().rows({ sinceMs: 0 })).length).toBe(ROWS));
    for (const read of [eventsRead, groupsRead, rowsRead]) {
      // On the event loop, each read was one wait as long as the read itself.
      expect(read.took).toBeGreaterThan(40);
      expect(read.longestGap).toBeLessThan(read.took / 2);
    }
  });

  it('the read rows are the ones written, oldest first', async () => {
    const rows = await ledger().rows({ sinceMs: NOW - 25, untilMs: NOW + 1 });
    expect(rows.map((r) => r.requestId)).toEqual(['r2', 'r1', 'r0']);
    expect(rows[0]).toEqual(sampleRow({ requestId: 'r2', ts: NOW - 20, user: 'u2' }));
  });
});
