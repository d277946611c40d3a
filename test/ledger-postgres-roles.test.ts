// A gateway on a PostgreSQL ledger whose tables another role owns (least privilege: the owner migrates,
// the gateway's role may only read and insert). Regression tests from a QA pass on the ledger: every
// start ran `CREATE TABLE IF NOT EXISTS`, which needs CREATE on the schema even when the table is there,
// so such a role could not start a gateway at all ("permission denied for schema public"); and a role
// that may not migrate a ledger that needs it was told only that, not what it was doing nor what to grant.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openLedger } from '../src/ledger/open-ledger.js';
import { PG_ADMIN_URL, postgresPlace, type LedgerPlace } from './helpers/ledgers.js';
import { chat, startUsageGateway } from './helpers/usage-gateway.js';

const role = `tollgate_app_${randomBytes(4).toString('hex')}`;
const places: LedgerPlace[] = [];

/** A fresh database where only its owner (postgres) may create anything; `migrated`: the owner has migrated the ledger. */
async function databaseOwnedElsewhere(migrated: boolean): Promise<string> {
  const place = await postgresPlace();
  places.push(place);
  if (migrated) await (await openLedger(place.url)).close();
  const owner = postgres(place.url, { max: 1, onnotice: () => {} });
  try {
    await owner.unsafe('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
    await owner.unsafe(`GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO ${role}`);
    await owner.unsafe(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
  } finally {
    await owner.end();
  }
  const url = new URL(place.url);
  url.username = role;
  return url.toString();
}

const config = (ledgerUrl: string): string => `
storage: {ledger: "${ledgerUrl}"}
providers: {demo: {type: mock, output_tokens: 5}}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
keys: [{id: a, key: tg-a}]
`;

beforeAll(async () => {
  const admin = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE ROLE ${role} LOGIN`).finally(() => admin.end());
});
afterAll(async () => {
  for (const p of places.splice(0)) await p.drop();
  const admin = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`DROP ROLE IF EXISTS ${role}`).finally(() => admin.end());
});

it('a role granted SELECT and INSERT on a migrated ledger starts a gateway, and its calls are recorded', async () => {
  const url = await databaseOwnedElsewhere(true);
  const gw = await startUsageGateway(config(url));
  try {
    for (let i = 0; i < 3; i++) expect((await chat(gw.url, 'tg-a', { model: 'm' })).status).toBe(200);
    await gw.usage.writer.flush();
    expect(await gw.usage.ledger.rows({})).toHaveLength(3);
  } finally {
    await gw.close();
  }
});

it('a role that may not create the ledger says so, with the versions and what to grant', async () => {
  const url = await databaseOwnedElsewhere(false);
  const err = await startUsageGateway(config(url)).then(
    () => undefined,
    (e: Error) => e,
  );
  expect(err?.message).toMatch(/^storage\.ledger: cannot open postgres:\/\/tollgate_app_\w+@.*: this role may not create the ledger's tables \(permission denied for schema public\)/);
  expect(err?.message).toContain('the database has no ledger yet and this tollgate needs version');
  expect(err?.message).toContain('grant the role CREATE on the schema');
});
