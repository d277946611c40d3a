// Keys made, rotated and revoked through the admin API (`/api/keys`) and `tollgate keys`, against a real
// `tollgate serve` process on a SQLite ledger, called with the official openai client: a new key works at
// once and is held to its tier's limits; a rotation's grace period ends when it says; a revoked key is
// refused at once; keys and what their users spent survive a restart; the secret is shown once only.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlitePlace, type LedgerPlace } from './helpers/ledgers.js';
import { CLI, startCli, writeConfig, type RunningProcess } from './helpers/processes.js';
import { until } from './helpers/until.js';
import { openLedger } from '../src/ledger/open-ledger.js';

const run = promisify(execFile);
const ADMIN = 'admin-secret';
/** The gateway logs at info, so that its log lines about keys can be read. */
const LOG_INFO = { TOLLGATE_LOG_LEVEL: 'info' };
/** Every secret the tests were given: none may be in the gateway's log. */
const secrets: string[] = [];
/** The log of every gateway process of the file (a restart starts a new one). */
let logs = '';

const config = (ledgerUrl: string): string => `
server: {admin_key: ${ADMIN}}
storage: {ledger: "${ledgerUrl}"}
ledger: {flush_interval_ms: 50}
providers: {demo: {type: mock, output_tokens: 40}}
users: {tier_trial: {daily_limit: 150}}
projects: {production: {daily_limit: 100000}}
routes: {main: {chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]}}
keys: [{id: alice, key: tg-alice, user: alice}]
`;

let place: LedgerPlace;
let file: string;
let gw: RunningProcess;

beforeAll(async () => {
  place = sqlitePlace();
  file = writeConfig(config(place.url));
  gw = await startCli(['serve', '--config', file, '--port', '0'], LOG_INFO);
}, 30_000);
afterAll(async () => {
  await gw?.stop();
  await place?.drop();
});

async function admin(method: string, path: string, body?: unknown, key = ADMIN): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(gw.url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  const json = JSON.parse(text);
  if (typeof json.key === 'string') secrets.push(json.key);
  return { status: res.status, body: json, text };
}

function client(apiKey: string): OpenAI {
  return new OpenAI({ apiKey, baseURL: `${gw.url}/v1`, maxRetries: 0 });
}

/** The status of one small chat call with `apiKey`. */
async function statusOf(apiKey: string): Promise<number> {
  try {
    await client(apiKey).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20 });
    return 200;
  } catch (err) {
    if (err instanceof OpenAI.APIError && err.status !== undefined) return err.status;
    throw err;
  }
}

async function create(body: Record<string, unknown>): Promise<string> {
  const res = await admin('POST', '/api/keys', body);
  expect(res.status, res.text).toBe(201);
  return res.body.key as string;
}

describe('a key made through the admin API', () => {
  it('works at once, is held to its tier, is charged to it in the ledger, and is listed without its secret', async () => {
    const res = await admin('POST', '/api/keys', { id: 'ci-bot', user: 'ci', tier: 'tier_trial', project: 'production', groups: ['bots'] });
    expect(res.status).toBe(201);
    const secret = res.body.key as string;
    expect(secret).toMatch(/^tg-[A-Za-z0-9_-]{43}$/);
    expect(res.body).toMatchObject({ object: 'tollgate.key', id: 'ci-bot', source: 'api', status: 'active', hint: `${secret.slice(0, 7)}...${secret.slice(-4)}`, user: 'ci', tier: 'tier_trial', project: 'production', groups: ['bots'], routes: null, revoked_at: null });

    const answer = await client(secret).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20 });
    expect(answer.usage?.completion_tokens).toBeGreaterThan(0);
    // 150 tokens a day for the trial tier: each call reserves ~30 and uses ~30, so a few more calls reach it.
    let refused: InstanceType<typeof OpenAI.RateLimitError> | undefined;
    for (let i = 0; i < 10 && !refused; i++) {
      await client(secret)
        .chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20 })
        .catch((err) => {
          if (!(err instanceof OpenAI.RateLimitError)) throw err;
          refused = err;
        });
    }
    expect(refused?.headers?.get('x-tollgate-limit')).toBe('user:ci:daily');
    // Another user of no tier is not held to it.
    expect(await statusOf('tg-alice')).toBe(200);

    const ledger = await openLedger(place.url, { readonly: true });
    try {
      await until(async () => (await ledger.rows({})).some((r) => r.keyId === 'ci-bot' && r.status === 429), 5000);
      const rows = (await ledger.rows({})).filter((r) => r.keyId === 'ci-bot');
      expect(rows[0]).toMatchObject({ user: 'ci', project: 'production', groups: ['bots'], status: 200 });
    } finally {
      await ledger.close();
    }

    const listed = await admin('GET', '/api/keys');
    expect(listed.body.object).toBe('list');
    expect(listed.body.data.map((k: { id: string; source: string }) => `${k.id}:${k.source}`)).toEqual(expect.arrayContaining(['alice:config', 'ci-bot:api']));
    expect(listed.text).not.toContain(secret);
    expect(listed.text).not.toContain(secret.slice(7, -4));
    const one = await admin('GET', '/api/keys/ci-bot');
    expect(one.body).toEqual(listed.body.data.find((k: { id: string }) => k.id === 'ci-bot'));
    expect(one.text).not.toContain(secret);
  }, 30_000);

  it('rotated with a grace period: both secrets work until it ends, then only the new one; without one the old stops at once', async () => {
    const first = await create({ id: 'deployer' });
    expect(await statusOf(first)).toBe(200);
    const rotated = await admin('POST', '/api/keys/deployer/rotate', { grace_seconds: 2 });
    expect(rotated.status).toBe(200);
    const second = rotated.body.key as string;
    expect(second).not.toBe(first);
    expect(rotated.body.previous_key_expires_at).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000));
    const rotatedAt = Date.now();
    expect(await statusOf(first)).toBe(200);
    expect(await statusOf(second)).toBe(200);
    await until(async () => (await statusOf(first)) === 401, 5000);
    expect(Date.now() - rotatedAt).toBeGreaterThanOrEqual(1900);
    expect(await statusOf(second)).toBe(200);

    const third = (await admin('POST', '/api/keys/deployer/rotate')).body.key as string;
    expect(await statusOf(second)).toBe(401);
    expect(await statusOf(third)).toBe(200);
  }, 30_000);

  it('revoked: refused at once as an unknown key; revoking again changes nothing; its id is not given again', async () => {
    const secret = await create({ id: 'temp' });
    expect(await statusOf(secret)).toBe(200);
    const revoked = await admin('DELETE', '/api/keys/temp');
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: 'temp', status: 'revoked' });
    expect(revoked.body.revoked_at).toBeGreaterThan(0);
    const err = await client(secret).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(err.code).toBe('invalid_api_key');
    expect((await admin('DELETE', '/api/keys/temp')).body).toEqual(revoked.body);
    const again = await admin('POST', '/api/keys', { id: 'temp' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('key_id_taken');
    const rotate = await admin('POST', '/api/keys/temp/rotate');
    expect([rotate.status, rotate.body.error.code]).toEqual([409, 'key_revoked']);
    const change = await admin('PATCH', '/api/keys/temp', { user: 'someone' });
    expect([change.status, change.body.error.code]).toEqual([409, 'key_revoked']);
  }, 30_000);

  it('changed (PATCH): moved into a tier, held at once to what its user spent today; the same secret throughout', async () => {
    const secret = await create({ id: 'mover', user: 'mover' });
    // No tier: seven calls of 25 tokens each (8 in, 17 out) pass, 175 in all, more than the trial tier's 150.
    for (let i = 0; i < 7; i++) expect(await statusOf(secret)).toBe(200);
    const moved = await admin('PATCH', '/api/keys/mover', { tier: 'tier_trial', groups: ['movers'] });
    expect(moved.status, moved.text).toBe(200);
    expect(moved.body).toMatchObject({ id: 'mover', user: 'mover', tier: 'tier_trial', groups: ['movers'], status: 'active' });
    expect(moved.text).not.toContain(secret);
    // The new tier's counter for the user is rebuilt from the ledger when the change applies: already spent.
    const err = await client(secret).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20 }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.headers.get('x-tollgate-limit')).toBe('user:mover:daily');
    const freed = await admin('PATCH', '/api/keys/mover', { tier: null });
    expect(freed.body).toMatchObject({ tier: null, user: 'mover', groups: ['movers'] });
    expect(await statusOf(secret)).toBe(200);

    const bad: Array<[string, unknown, number, string, RegExp]> = [
      ['mover', {}, 400, 'invalid_request', /^Send at least one field to change/],
      ['mover', { user: null, tier: 'tier_trial' }, 400, 'invalid_request', /^tier: `tier` needs `user`/],
      ['mover', { tier: 'tier_gold' }, 400, 'invalid_request', /^tier: unknown tier `tier_gold`/],
      ['mover', { id: 'renamed' }, 400, 'invalid_request', /^Unknown field `id`/],
      ['alice', { tier: 'tier_trial' }, 409, 'key_in_config', /written in the configuration file/],
      ['nobody', { tier: 'tier_trial' }, 404, 'key_not_found', /No key with id 'nobody'/],
    ];
    for (const [id, body, status, code, message] of bad) {
      const res = await admin('PATCH', `/api/keys/${id}`, body);
      expect([res.status, res.body.error.code], `${id} ${JSON.stringify(body)}`).toEqual([status, code]);
      expect(res.body.error.message).toMatch(message);
    }
    const put = await fetch(`${gw.url}/api/keys/mover`, { method: 'PUT', headers: { authorization: `Bearer ${ADMIN}` } });
    expect([put.status, put.headers.get('allow')]).toEqual([405, 'GET, DELETE, PATCH']);
  }, 30_000);

  it('made to expire: works until then, then 401 expired_api_key saying when; extended, it works again', async () => {
    const at = Math.floor(Date.now() / 1000) + 2;
    const made = await admin('POST', '/api/keys', { id: 'contractor', user: 'contractor', expires_at: at });
    expect(made.body).toMatchObject({ status: 'active', expires_at: at });
    const secret = made.body.key as string;
    expect(await statusOf(secret)).toBe(200);
    await until(async () => (await statusOf(secret)) === 401, 5000);
    expect(Date.now()).toBeGreaterThanOrEqual(at * 1000);
    const err = await client(secret).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(err.code).toBe('expired_api_key');
    expect(err.message).toContain(`This API key expired at ${new Date(at * 1000).toISOString()}.`);
    expect((await admin('GET', '/api/keys/contractor')).body.status).toBe('expired');
    // Anthropic clients are told the same, in Anthropic's format.
    const anthropic = await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': secret, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: '{}' });
    expect(anthropic.status).toBe(401);
    expect((await anthropic.json()).error).toMatchObject({ type: 'authentication_error', message: expect.stringContaining('expired at') });

    expect((await admin('PATCH', '/api/keys/contractor', { expires_at: null })).body).toMatchObject({ status: 'active', expires_at: null });
    expect(await statusOf(secret)).toBe(200);
    const now = Math.floor(Date.now() / 1000);
    for (const [value, message] of [[now - 60, /^expires_at: \d+ \(.+\) has passed/], [Date.now() + 60_000, /more than ten years away; give Unix seconds \(not milliseconds\)/]] as const) {
      const res = await admin('POST', '/api/keys', { id: 'never-made', expires_at: value });
      expect([res.status, res.body.error.param], String(value)).toEqual([400, 'expires_at']);
      expect(res.body.error.message).toMatch(message);
    }
  }, 30_000);

  it('keys and what their users spent survive a restart: the tier spent stays spent, a revoked key stays refused', async () => {
    const keeper = await create({ id: 'keeper', user: 'keeper' });
    const trial = await create({ id: 'trial-2', user: 'ci', tier: 'tier_trial' });
    await gw.stop();
    logs += gw.output();
    gw = await startCli(['serve', '--config', file, '--port', '0'], LOG_INFO);
    expect(await statusOf(keeper)).toBe(200);
    // User `ci` spent the trial tier's day with ci-bot (first test): a new key of the same user and tier is
    // refused, as it was before the restart; the memory counters were rebuilt from the ledger with the managed keys.
    expect(await statusOf(trial)).toBe(429);
    const listed = (await admin('GET', '/api/keys')).body.data as Array<{ id: string; status: string }>;
    expect(Object.fromEntries(listed.map((k) => [k.id, k.status]))).toMatchObject({ alice: 'active', 'ci-bot': 'active', deployer: 'active', temp: 'revoked', keeper: 'active', 'trial-2': 'active' });
  }, 40_000);
});

describe('tollgate keys', () => {
  const env = { ...process.env, TOLLGATE_ADMIN_KEY: ADMIN };
  const keys = (...args: string[]) => run(process.execPath, [CLI, 'keys', ...args, '--url', gw.url], { env });

  it('create prints the secret alone on stdout, list and show never print it, revoke ends it', async () => {
    const created = await keys('create', 'cli-bot', '--user', 'cli', '--group', 'bots', '--group', 'ml', '--route', 'main');
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^tg-[A-Za-z0-9_-]{43}$/);
    secrets.push(secret);
    expect(created.stderr).toMatch(/created key cli-bot\. Store the secret above now/);
    expect(await statusOf(secret)).toBe(200);

    const listed = await keys('list');
    expect(listed.stdout).toMatch(/^cli-bot +api +active +tg-\S+\.\.\.\S{4} +default +- +cli +- +bots,ml +main +-$/m);
    expect(listed.stdout).not.toContain(secret.slice(7, -4));
    const shown = JSON.parse((await keys('show', 'cli-bot', '--format', 'json')).stdout);
    expect(shown).toMatchObject({ id: 'cli-bot', groups: ['bots', 'ml'], routes: ['main'] });

    const rotated = await keys('rotate', 'cli-bot', '--grace', '1m');
    secrets.push(rotated.stdout.trim());
    expect(rotated.stderr).toMatch(/rotated key cli-bot; the old secret works until \d{4}-/);
    expect(await statusOf(rotated.stdout.trim())).toBe(200);
    expect(await statusOf(secret)).toBe(200);

    const updated = await keys('update', 'cli-bot', '--tier', 'tier_trial', '--clear', 'routes', '--clear', 'groups', '--expires', '2d');
    const inTwoDays = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 13);
    expect(updated.stdout).toMatch(new RegExp(`^cli-bot +api +active +tg-\\S+ +default +- +cli +tier_trial +- +all +${inTwoDays}:\\d\\d:\\d\\d\\.000Z$`, 'm'));
    expect(await statusOf(secret)).toBe(200);
    expect((await keys('revoke', 'cli-bot')).stdout.trim()).toBe('revoked key cli-bot');
    expect(await statusOf(rotated.stdout.trim())).toBe(401);
    // The grace period of a revoked key's old secret ends with it.
    expect(await statusOf(secret)).toBe(401);
  }, 30_000);

  it('fails with one line and exit 1: a config key, an unknown tier, a bad --grace, no admin key', async () => {
    const failure = async (args: string[], e = env) => {
      const err = await run(process.execPath, [CLI, 'keys', ...args, '--url', gw.url], { env: e }).catch((x) => x);
      expect(err.code, args.join(' ')).toBe(1);
      expect(err.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      return err.stderr.trim() as string;
    };
    expect(await failure(['revoke', 'alice'])).toBe("tollgate keys: HTTP 409: Key 'alice' is written in the configuration file, not made through the API: change or remove it there and reload.");
    expect(await failure(['create', 'x', '--user', 'u', '--tier', 'tier_trail'])).toBe('tollgate keys: HTTP 400: tier: unknown tier `tier_trail` (did you mean `tier_trial`?).');
    expect(await failure(['rotate', 'keeper', '--grace', '2x'])).toMatch(/--grace must be a duration/);
    expect(await failure(['update', 'keeper', '--clear', 'id'])).toBe("tollgate keys: --clear takes project, user, tier, groups, routes, expires, not 'id'");
    expect(await failure(['create', 'y', '--expires', 'tomorrow'])).toMatch(/^tollgate keys: --expires must be a time from now such as 30d/);
    expect(await failure(['list'], { ...process.env, TOLLGATE_ADMIN_KEY: '' })).toBe('tollgate keys: give --admin-key KEY or set TOLLGATE_ADMIN_KEY');
    expect(await failure(['list', '--admin-key', 'wrong'])).toMatch(/^tollgate keys: HTTP 401: This endpoint needs the admin key/);
  }, 30_000);
});

describe('bad admin requests', () => {
  it('without the admin key: 401 before the body is read, whatever it holds', async () => {
    for (const body of ['{not json', JSON.stringify({ id: 'x' })]) {
      const res = await admin('POST', '/api/keys', body, 'tg-alice');
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('admin_key_required');
    }
    expect((await admin('GET', '/api/keys', undefined, 'wrong')).status).toBe(401);
  });

  it('names the field at fault, and suggests the nearest name', async () => {
    const cases: Array<[unknown, number, string, string | null, RegExp]> = [
      ['{not json', 400, 'invalid_json', null, /JSON/],
      ['[1]', 400, 'invalid_request', null, /^Send a JSON object as the body\.$/],
      [{ id: 'x', teir: 'tier_trial' }, 400, 'invalid_request', 'teir', /^Unknown field `teir` \(did you mean `tier`\?\)\.$/],
      [{ id: 'x', tier: 'tier_trial' }, 400, 'invalid_request', 'tier', /^tier: `tier` needs `user`/],
      [{ id: 'x', project: 'prod' }, 400, 'invalid_request', 'project', /^project: unknown project `prod` \(expected one of `production`\)\.$/],
      [{ id: 'has space' }, 400, 'invalid_request', 'id', /^id: names may only use letters/],
      [{ id: 'x', groups: 'bots' }, 400, 'invalid_request', 'groups', /^groups: /],
      [{ user: 'u' }, 400, 'invalid_request', 'id', /^id: /],
      [{ id: 'alice' }, 409, 'key_id_taken', 'id', /^A key with id 'alice' exists already \(a key in the configuration\)/],
    ];
    for (const [body, status, code, param, message] of cases) {
      const res = await admin('POST', '/api/keys', body);
      expect([res.status, res.body.error.code, res.body.error.param], JSON.stringify(body)).toEqual([status, code, param]);
      expect(res.body.error.message).toMatch(message);
    }
    const rotate = await admin('POST', '/api/keys/keeper/rotate', { grace_seconds: 8 * 86_400 });
    expect([rotate.status, rotate.body.error.param]).toEqual([400, 'grace_seconds']);
    expect((await admin('GET', '/api/keys/nobody')).body.error.code).toBe('key_not_found');
    expect((await admin('DELETE', '/api/keys/nobody')).status).toBe(404);
  });
});

describe('a gateway without a ledger', () => {
  let bare: RunningProcess;
  beforeAll(async () => {
    bare = await startCli(['serve', '--config', writeConfig(`${config('sqlite:/nonexistent/never.db')}\nledger: {enabled: false}\n`.replace('ledger: {flush_interval_ms: 50}\n', '')), '--port', '0']);
  }, 30_000);
  afterAll(async () => {
    await bare?.stop();
  });

  it('answers 403 key_management_disabled, saying where keys are kept and what to do instead', async () => {
    const res = await fetch(`${bare.url}/api/keys`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: '{"id":"x"}' });
    expect(res.status).toBe(403);
    const body = await res.json();
    expect(body.error.code).toBe('key_management_disabled');
    expect(body.error.message).toMatch(/ledger's database.*ledger\.enabled: false.*`keys`/);
  });
});

describe('the log', () => {
  it('has a line for each change to a key, naming it and whom it stands for, and none of the secrets given', async () => {
    const lines = (logs + gw.output()).split('\n').filter((l) => l.includes('"action"')).map((l) => JSON.parse(l));
    expect(lines.find((l) => l.key === 'ci-bot' && l.action === 'created')).toMatchObject({ msg: 'managed key ci-bot created', user: 'ci', tier: 'tier_trial', project: 'production' });
    for (const action of ['rotated', 'revoked', 'changed']) expect(lines.some((l) => l.action === action), action).toBe(true);
    expect(secrets.length).toBeGreaterThan(5);
    for (const secret of secrets) expect(logs + gw.output()).not.toContain(secret.slice(7, -4));
  });
});
