// A reload while the ledger is slow. Regression test from an operator's day: a reload rebuilt the counters
// from the ledger before applying the new config, and waited for it however long it took, so with the
// ledger's table locked (a migration, a VACUUM FULL, a stalled database) a key removed from the config went
// on being admitted for as long as the lock was held (20 s in the report, for ever with a frozen database).
import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { postgresPlace, type LedgerPlace } from './helpers/ledgers.js';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';
import { writeFileSync } from 'node:fs';

const config = (ledger: string, keys: string[]): string => `
storage: {ledger: "${ledger}"}
providers: {demo: {type: mock, output_tokens: 5}}
projects: {p: {daily_limit: 100000}}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
keys:
${keys.map((k) => `  - {id: ${k}, key: tg-${k}, project: p}`).join('\n')}
`;

let place: LedgerPlace;
let gateway: RunningProcess | undefined;
beforeAll(async () => {
  place = await postgresPlace();
});
afterAll(async () => {
  await gateway?.stop();
  await place?.drop();
});

async function status(key: string): Promise<number> {
  const res = await fetch(`${gateway!.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer tg-${key}` },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Holds an exclusive lock on the ledger's table (a migration's, a VACUUM FULL's) until `release` is called. */
async function lockLedger(): Promise<{ release: () => Promise<void> }> {
  const sql = postgres(place.url, { max: 1, onnotice: () => {} });
  let free!: () => void;
  const held = new Promise<void>((r) => (free = r));
  let locked!: () => void;
  const isLocked = new Promise<void>((r) => (locked = r));
  const lock = sql.begin(async (tx) => {
    await tx.unsafe('LOCK TABLE tollgate_ledger IN ACCESS EXCLUSIVE MODE');
    locked();
    await held;
  });
  await isLocked;
  return {
    release: async () => {
      free();
      await lock;
      await sql.end();
    },
  };
}

/** How long after `since` key `a` is first refused, polling for up to `withinMs`; undefined if never. */
async function refusedAfter(since: number, withinMs: number): Promise<number | undefined> {
  while (Date.now() - since < withinMs) {
    if ((await status('a')) === 401) return Date.now() - since;
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}

it('applies a removed key within storage.rebuild_wait_ms while the ledger is locked', async () => {
  const file = writeConfig(config(place.url, ['a', 'b']));
  gateway = await startCli(['serve', '--config', file, '--port', '0']);
  expect(await status('a')).toBe(200); // the ledger's table exists from here on
  const lock = await lockLedger();
  try {
    writeFileSync(file, config(place.url, ['b']));
    // The lock is held until then (15 s at most); the default rebuild_wait_ms is 2 s, and the file is noticed within ~300 ms.
    const after = await refusedAfter(Date.now(), 15_000);
    expect(after, gateway.output()).toBeDefined();
    expect(after!).toBeLessThan(5_000);
    expect(gateway.output()).toContain('still running');
  } finally {
    await lock.release();
  }
  // Once the lock goes, the ledger catches up and the gateway serves on under the new config.
  expect(await status('b')).toBe(200);
});
