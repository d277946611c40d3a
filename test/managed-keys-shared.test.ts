// Managed keys across gateway instances: two `tollgate serve` processes sharing one PostgreSQL ledger and
// one Redis. A key made or revoked through one is in force on the other within `storage.key_refresh_ms`;
// two rotations of one key sent to both at once leave exactly one secret working, on both.
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { postgresPlace, type LedgerPlace } from './helpers/ledgers.js';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';
import { usePrivateRedis } from './helpers/redis-servers.js';
import { until } from './helpers/until.js';

const ADMIN = 'admin-secret';
const REFRESH_MS = 200;
const redis = usePrivateRedis();
let place: LedgerPlace;
let a: RunningProcess;
let b: RunningProcess;

beforeAll(async () => {
  place = await postgresPlace();
  const file = writeConfig(`
server: {admin_key: ${ADMIN}}
storage: {counters: "${redis.url}", ledger: "${place.url}", key_refresh_ms: ${REFRESH_MS}, instances: 2}
providers: {demo: {type: mock, output_tokens: 5}}
routes: {main: {chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]}}
keys: [{id: alice, key: tg-alice}]
`);
  [a, b] = await Promise.all([startCli(['serve', '--config', file, '--port', '0']), startCli(['serve', '--config', file, '--port', '0'])]);
}, 30_000);
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await place?.drop();
});

async function admin(gw: RunningProcess, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(gw.url + path, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

async function statusOf(gw: RunningProcess, apiKey: string): Promise<number> {
  try {
    await new OpenAI({ apiKey, baseURL: `${gw.url}/v1`, maxRetries: 0 }).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 });
    return 200;
  } catch (err) {
    if (err instanceof OpenAI.APIError && err.status !== undefined) return err.status;
    throw err;
  }
}

/** How long until `gw` answers `status` to `apiKey`, ms (fails past 5 s). */
async function msUntil(gw: RunningProcess, apiKey: string, status: number): Promise<number> {
  const start = Date.now();
  await until(async () => (await statusOf(gw, apiKey)) === status, 5000);
  return Date.now() - start;
}

it('a key made on one instance works on the other within the refresh; revoked on one, it is refused on the other too', async () => {
  const made = await admin(a, 'POST', '/api/keys', { id: 'shared-bot', user: 'bot' });
  expect(made.status).toBe(201);
  const secret = made.body.key as string;
  expect(await statusOf(a, secret)).toBe(200);
  expect(await msUntil(b, secret, 200)).toBeLessThan(REFRESH_MS * 10);
  expect((await admin(b, 'GET', '/api/keys/shared-bot')).body).toMatchObject({ id: 'shared-bot', source: 'api', status: 'active' });

  expect((await admin(a, 'DELETE', '/api/keys/shared-bot')).status).toBe(200);
  expect(await statusOf(a, secret)).toBe(401);
  expect(await msUntil(b, secret, 401)).toBeLessThan(REFRESH_MS * 10);
  expect((await admin(b, 'GET', '/api/keys/shared-bot')).body.status).toBe('revoked');
  // Config keys are untouched by all of it.
  expect(await statusOf(b, 'tg-alice')).toBe(200);
}, 30_000);

it('two rotations of one key sent to both instances at once leave exactly one secret working, on both', async () => {
  const first = (await admin(a, 'POST', '/api/keys', { id: 'raced' })).body.key as string;
  await msUntil(b, first, 200);
  for (let round = 0; round < 3; round++) {
    const answers = await Promise.all([admin(a, 'POST', '/api/keys/raced/rotate'), admin(b, 'POST', '/api/keys/raced/rotate')]);
    for (const r of answers) expect([200, 409], JSON.stringify(r.body)).toContain(r.status);
    for (const r of answers.filter((x) => x.status === 409)) expect(r.body.error.code).toBe('key_changed');
    const secrets = answers.filter((x) => x.status === 200).map((x) => x.body.key as string);
    expect(secrets.length).toBeGreaterThanOrEqual(1);
    // Once both instances have read the table: one secret works, the same on both, and the other does not.
    await new Promise((r) => setTimeout(r, REFRESH_MS * 4));
    const works = async (gw: RunningProcess) => {
      const ok: string[] = [];
      for (const s of [...secrets, first]) if ((await statusOf(gw, s)) === 200) ok.push(s);
      return ok;
    };
    const onA = await works(a);
    expect(onA).toHaveLength(1);
    expect(await works(b)).toEqual(onA);
  }
}, 40_000);
