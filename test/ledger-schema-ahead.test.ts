// A gateway started on a ledger that a later release has already migrated (a rollback during a rolling
// upgrade) opens it and writes on, its rows leaving the newer columns empty, so it says so at start. From a
// rolling-upgrade QA pass (ee99bb4 -> 1d19c36 on one PostgreSQL ledger): the older release, started again
// after the newer one had migrated the ledger to schema 9, said nothing.
import { Writable } from 'node:stream';
import pino from 'pino';
import postgres from 'postgres';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPolicy } from '../src/config/index.js';
import { openLedger } from '../src/ledger/open-ledger.js';
import { POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS, VERSION_TABLE } from '../src/ledger/migrations.js';
import { MemoryCounterStore } from '../src/limits/memory-store.js';
import { startUsageServices } from '../src/server/usage-services.js';
import { ManualClock } from '../src/util/clock.js';
import { LEDGER_KINDS, type LedgerPlace } from './helpers/ledgers.js';
import { writeConfig } from './helpers/processes.js';

const places: LedgerPlace[] = [];
afterAll(async () => {
  for (const p of places) await p.drop();
});

/** Records a version one past this release's, as the next release's migration would. */
async function migrateOnePast(place: LedgerPlace): Promise<number> {
  await (await openLedger(place.url)).close();
  if (place.kind === 'sqlite') {
    const next = SQLITE_MIGRATIONS.length + 1;
    const db = new Database(place.url.slice('sqlite:'.length));
    db.prepare(`INSERT INTO ${VERSION_TABLE} (version) VALUES (?)`).run(next);
    db.close();
    return next;
  }
  const next = POSTGRES_MIGRATIONS.length + 1;
  const sql = postgres(place.url, { max: 1, onnotice: () => {} });
  await sql.unsafe(`INSERT INTO ${VERSION_TABLE} (version) VALUES ($1)`, [next]);
  await sql.end();
  return next;
}

describe.each(LEDGER_KINDS)('$kind ledger migrated past this release', ({ place: makePlace }) => {
  it('opens, with a warning at start naming both versions', async () => {
    const place = await makePlace();
    places.push(place);
    const ahead = await migrateOnePast(place);
    const lines: Array<{ level: number; msg: string; schemaVersion?: number }> = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(String(chunk))), done()) });
    const policy = loadPolicy([writeConfig(`storage: {ledger: "${place.url}"}\nproviders: {demo: {type: mock}}\nroutes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}\nkeys: [{id: a, key: tg-a}]\n`)], process.env);
    const clock = new ManualClock(Date.UTC(2026, 11, 6, 12));
    const usage = await startUsageServices({ policy, store: new MemoryCounterStore(clock, 'UTC'), clock, log: pino({ level: 'info' }, sink), currentPolicy: () => policy });
    try {
      const warning = lines.find((l) => l.level === 40 && l.msg.includes('newer than this tollgate'));
      expect(warning?.schemaVersion).toBe(ahead);
      expect(warning?.msg).toContain(`version ${ahead}, newer than this tollgate's ${ahead - 1}`);
    } finally {
      await usage.close();
    }
  });
});
