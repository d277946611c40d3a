// QA pass (session 38) of the README's Responses API / Conversations API claims on two gateway
// instances sharing one private redis-server, with `tollgate mock-upstream` (the built CLI) as the
// upstream and the official `openai` client: background responses and their retrieval endpoints across
// instances, conversations' endpoints refused across instances, the size a conversation's record keeps
// for the next turn, and request-rate limits on retrievals shared by the instances.
import OpenAI from 'openai';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, type RunningProcess } from './helpers/processes.js';
import { startStoreInstance, stopStoreInstance, type StoreInstance } from './helpers/store-instance.js';
import { usePrivateRedis } from './helpers/redis-servers.js';
import { until } from './helpers/until.js';

const UPSTREAM_KEY = 'sk-upstream-s38';


const redisServer = usePrivateRedis();
let mock: RunningProcess;
/** A second mock upstream answering everything (its stored-object endpoints too) after 300 ms. */
let slowMock: RunningProcess;
let redis: Redis;
const instances: StoreInstance[] = [];


beforeAll(async () => {
  mock = await startCli(['mock-upstream', '--port', '0', '--output-tokens', '8', '--api-key', UPSTREAM_KEY]);
  slowMock = await startCli(['mock-upstream', '--port', '0', '--latency-ms', '300', '--output-tokens', '8', '--api-key', UPSTREAM_KEY]);
  redis = new Redis(redisServer.url);
  const yaml = `
storage: {counters: "${redisServer.url}", instances: 2}
enforcement: {stored_context_tokens: 50000}
providers:
  openai: {type: openai, base_url: "${mock.url}/v1", api_key: ${UPSTREAM_KEY}}
  slow: {type: openai, base_url: "${slowMock.url}/v1", api_key: ${UPSTREAM_KEY}}
organizations: {acme: {}, rival: {}}
projects: {web: {daily_limit: 1000000}, mobile: {daily_limit: 1000000}, notes: {daily_limit: 1000000}, tight: {daily_limit: 9000}}
users: {limited: {daily_limit: 1000000, rate_limit: 4}}
routes:
  r: {chat_models: [{model_id: gpt-4.1, model: openai/gpt-4.1}]}
  s: {chat_models: [{model_id: slow-4.1, model: slow/gpt-4.1}]}
keys:
  - {id: web, key: tg-web, organization: acme, project: web}
  - {id: mobile, key: tg-mobile, organization: acme, project: mobile}
  - {id: rival, key: tg-rival, organization: rival, project: web}
  - {id: notes, key: tg-notes, organization: acme, project: notes, routes: [s]}
  - {id: tight, key: tg-tight, organization: acme, project: tight, routes: [s]}
  - {id: rated, key: tg-rated, organization: acme, project: web, user: rita, tier: limited}
`;
  for (let i = 0; i < 2; i++) instances.push(await startStoreInstance(yaml));
}, 30_000);

afterAll(async () => {
  for (const i of instances) {
    await i.gateway.background.finishAll();
    await stopStoreInstance(i);
  }
  await mock?.stop();
  await slowMock?.stop();
  await redis?.quit();
});

const client = (instance: number, key: string) => new OpenAI({ baseURL: `${instances[instance].url}/v1`, apiKey: key, maxRetries: 0 });
const upstreamRequests = async (): Promise<Array<{ method: string; url: string }>> => {
  const res = await fetch(`${mock.url}/__mock/requests`);
  return (await res.json()) as Array<{ method: string; url: string }>;
};

async function raw(instance: number, method: string, path: string, key: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${instances[instance].url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

describe('a background response across instances', () => {
  it('is pollable at once through the other instance by its project, refused there to others on every endpoint, and settled with the provider’s usage', async () => {
    const created = await client(0, 'tg-web').responses.create({ model: 'gpt-4.1', input: 'Write a haiku.', max_output_tokens: 500, background: true, ...({ mock_latency_ms: 1500 } as object) });
    expect(created.status).toBe('queued');
    const id = created.id;
    // The owner is recorded when the queued answer is written: another instance knows it at once
    // (allowing a Redis round trip).
    await expect.poll(() => redis.exists(`tg:{resp:${id}}`), { timeout: 2000 }).toBe(1);
    const polled = await client(1, 'tg-web').responses.retrieve(id);
    expect(['queued', 'in_progress']).toContain(polled.status);

    const before = (await upstreamRequests()).length;
    const callsBefore = instances[1].calls.length;
    const notFound = { status: 404, body: { error: { message: `Response with id '${id}' not found.`, type: 'invalid_request_error', param: null, code: null } } };
    for (const key of ['tg-mobile', 'tg-rival']) {
      expect(await raw(1, 'GET', `/v1/responses/${id}`, key)).toEqual(notFound);
      expect(await raw(1, 'GET', `/v1/responses/${id}/input_items`, key)).toEqual(notFound);
      expect(await raw(1, 'POST', `/v1/responses/${id}/cancel`, key)).toEqual(notFound);
      expect(await raw(1, 'DELETE', `/v1/responses/${id}`, key)).toEqual(notFound);
      await expect(client(1, key).responses.create({ model: 'gpt-4.1', previous_response_id: id, input: 'Go on.', max_output_tokens: 50 })).rejects.toMatchObject({
        status: 404,
        error: { param: 'previous_response_id', code: 'previous_response_not_found' },
      });
    }
    // Nothing of the above reached the provider (a cancel by another tenant would have stopped it), and the
    // refused follow-ups were refused before any reservation: no call recorded, nothing held.
    expect((await upstreamRequests()).length).toBe(before);
    expect(instances[1].calls.length).toBe(callsBefore);

    // Instance 0 follows it to its end and records the provider's figures; the grant is released on both.
    await until(() => instances[0].calls.some((c) => c.providerResponseId === id), 10_000);
    const call = instances[0].calls.find((c) => c.providerResponseId === id)!;
    expect(call.usage).toMatchObject({ output: 8, source: 'provider' });
    expect(call.reserved.output).toBe(500);
    const done = await client(1, 'tg-web').responses.retrieve(id);
    expect(done.status).toBe('completed');
    expect(await instances[1].store.openReservations()).toBe(0);
    // Its record now carries the real size for a follow-up through the other instance.
    await expect.poll(async () => JSON.parse((await redis.get(`tg:{resp:${id}}`)) ?? '{}').c).toBe(done.usage!.input_tokens + done.usage!.output_tokens);
  });

  it('cancelled by its own project through the other instance: settled by the instance that follows it, as a served call', async () => {
    const created = await client(0, 'tg-web').responses.create({ model: 'gpt-4.1', input: 'Write a long poem.', max_output_tokens: 400, background: true, ...({ mock_latency_ms: 4000 } as object) });
    await expect.poll(() => redis.exists(`tg:{resp:${created.id}}`), { timeout: 2000 }).toBe(1);
    const cancelled = await client(1, 'tg-web').responses.cancel(created.id);
    expect(cancelled.status).toBe('cancelled');
    await until(() => instances[0].calls.some((c) => c.providerResponseId === created.id), 15_000);
    const call = instances[0].calls.find((c) => c.providerResponseId === created.id)!;
    expect(call.decision).not.toBe('failed');
    expect(call.status).toBe(200);
  }, 20_000);
});

describe('a conversation across instances', () => {
  it('made through one instance: every endpoint through the other is OpenAI’s 404 to another project, and nothing reaches the provider', async () => {
    const conversation = await client(0, 'tg-web').conversations.create({ items: [{ type: 'message', role: 'user', content: 'Salary bands.' }] });
    const id = conversation.id;
    const items = await client(1, 'tg-web').conversations.items.list(id);
    const itemId = (items.data[0] as { id: string }).id;
    const before = (await upstreamRequests()).length;
    const notFound = { status: 404, body: { error: { message: `Conversation with id '${id}' not found.`, type: 'invalid_request_error', param: null, code: null } } };
    for (const key of ['tg-mobile', 'tg-rival']) {
      for (const [method, path, body] of [
        ['GET', `/v1/conversations/${id}`],
        ['POST', `/v1/conversations/${id}`, { metadata: { a: 'b' } }],
        ['DELETE', `/v1/conversations/${id}`],
        ['GET', `/v1/conversations/${id}/items`],
        ['POST', `/v1/conversations/${id}/items`, { items: [{ type: 'message', role: 'user', content: 'Injected.' }] }],
        ['GET', `/v1/conversations/${id}/items/${itemId}`],
        ['DELETE', `/v1/conversations/${id}/items/${itemId}`],
      ] as const) {
        expect(await raw(1, method, path, key, body), `${key} ${method} ${path}`).toEqual(notFound);
      }
      await expect(client(1, key).responses.stream({ model: 'gpt-4.1', conversation: { id }, input: 'Read it.', max_output_tokens: 50 }).finalResponse()).rejects.toMatchObject({ status: 404 });
    }
    expect((await upstreamRequests()).length).toBe(before);
    expect((await client(0, 'tg-web').conversations.items.list(id)).data).toHaveLength(1);
  });

  it('items added one at a time through either instance all grow the recorded size', async () => {
    const { id } = await client(0, 'tg-notes').conversations.create({});
    const start = JSON.parse((await redis.get(`tg:{conv:${id}}`))!).c as number;
    const part = (n: number) => ({ type: 'message' as const, role: 'user' as const, content: `part ${n}: ${'minutes of the meeting '.repeat(300)}` });
    await client(0, 'tg-notes').conversations.items.create(id, { items: [part(1)] });
    await expect.poll(async () => JSON.parse((await redis.get(`tg:{conv:${id}}`))!).c, { timeout: 2000 }).toBeGreaterThan(start + 1000);
    const afterOne = JSON.parse((await redis.get(`tg:{conv:${id}}`))!).c as number;
    await client(1, 'tg-notes').conversations.items.create(id, { items: [part(2)] });
    await expect.poll(async () => JSON.parse((await redis.get(`tg:{conv:${id}}`))!).c, { timeout: 2000 }).toBeGreaterThanOrEqual(start + 2 * (afterOne - start));
  });

  // The record's size after items are added was a read-modify-write (the size read when the request
  // started, that plus the items written once the provider answered): two adds in flight at once (through
  // the two instances; one instance raced the same way) each wrote theirs on top of the same old size, so
  // the next turn reserved one add's tokens less than the provider bills (README: "the last turn's input
  // plus output, plus a bound on the items added since through the API"): 6,918 against 13,826 (a QA pass,
  // session 38). The store now grows the record in one step (CounterStore.growResponse).
  it('items added concurrently through the two instances all grow the recorded size (no lost update)', async () => {
    const { id } = await client(0, 'tg-notes').conversations.create({});
    const start = JSON.parse((await redis.get(`tg:{conv:${id}}`))!).c as number;
    const part = (n: number) => ({ type: 'message' as const, role: 'user' as const, content: `part ${n}: ${'minutes of the meeting '.repeat(300)}` });
    // The slow mock answers each add after 300 ms: both are in flight at once, as two clients' would be.
    const adds = await Promise.all([0, 1].map((i) => raw(i, 'POST', `/v1/conversations/${id}/items`, 'tg-notes', { items: [part(i)] })));
    expect(adds.map((a) => a.status)).toEqual([200, 200]);
    const items = await client(0, 'tg-notes').conversations.items.list(id);
    expect(items.data).toHaveLength(2);
    // What one add adds, measured alone on a fresh conversation.
    const other = await client(0, 'tg-notes').conversations.create({});
    const otherStart = JSON.parse((await redis.get(`tg:{conv:${other.id}}`))!).c as number;
    await client(0, 'tg-notes').conversations.items.create(other.id, { items: [part(7)] });
    await expect.poll(async () => JSON.parse((await redis.get(`tg:{conv:${other.id}}`))!).c, { timeout: 2000 }).toBeGreaterThan(otherStart + 1000);
    const oneAdd = (JSON.parse((await redis.get(`tg:{conv:${other.id}}`))!).c as number) - otherStart;
    await new Promise((r) => setTimeout(r, 300)); // the refreshes are not awaited: let both land
    const recorded = JSON.parse((await redis.get(`tg:{conv:${id}}`))!).c as number;
    expect(recorded).toBeGreaterThanOrEqual(start + 2 * oneAdd - 10);
  });
});

describe('follow-ups on a stored response, through both instances at once', () => {
  it('each reserves the size the first turn left, and together they never pass the project limit', async () => {
    const first = await client(0, 'tg-tight').responses.create({ model: 'slow-4.1', input: 'Background: ' + 'the quarterly figures were flat. '.repeat(200), max_output_tokens: 50 });
    const carried = first.usage!.input_tokens + first.usage!.output_tokens;
    expect(carried).toBeGreaterThan(1000);
    await expect.poll(async () => JSON.parse((await redis.get(`tg:{resp:${first.id}}`)) ?? '{}').c, { timeout: 2000 }).toBe(carried);
    const remaining = 9000 - carried;
    const seen = instances.map((i) => i.calls.length);
    // Eight follow-ups, four through each instance, all in flight together (the slow mock answers after 300 ms).
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, n) =>
        client(n % 2, 'tg-tight')
          .responses.create({ model: 'slow-4.1', previous_response_id: first.id, input: 'Go on.', max_output_tokens: 400 })
          .then(() => 'ok' as const, (err: unknown) => (err instanceof OpenAI.RateLimitError ? ('refused' as const) : Promise.reject(err))),
      ),
    );
    expect(results).toContain('refused');
    const followUps = instances.flatMap((i, k) => i.calls.slice(seen[k]));
    const admitted = followUps.filter((c) => c.status === 200);
    expect(admitted.length).toBe(results.filter((r) => r === 'ok').length);
    // Instance 1 never saw the first turn: it reserved the recorded size, not the 50,000 allowance (which
    // would have been cut to the window) nor nothing.
    for (const c of admitted) expect(c.reserved.input).toBeGreaterThanOrEqual(carried);
    expect(admitted.some((c) => instances[1].calls.includes(c))).toBe(true);
    expect(admitted.reduce((sum, c) => sum + c.reserved.input + c.reserved.output, 0)).toBeLessThanOrEqual(remaining);
  });
});

describe('request-rate limits on token-free requests, shared by the instances', () => {
  it('retrievals and conversation requests through both instances count against one rate_limit (4 a minute)', async () => {
    const created = await client(0, 'tg-web').responses.create({ model: 'gpt-4.1', input: 'Hi.', max_output_tokens: 50 });
    await expect.poll(() => redis.exists(`tg:{resp:${created.id}}`), { timeout: 2000 }).toBe(1);
    const statuses: number[] = [];
    for (const i of [0, 1, 0, 1]) statuses.push((await raw(i, 'GET', `/v1/responses/${created.id}`, 'tg-rated')).status);
    expect(statuses).toEqual([200, 200, 200, 200]);
    // The fifth, on either instance and whatever endpoint, is over the shared limit.
    expect((await raw(1, 'GET', `/v1/responses/${created.id}/input_items`, 'tg-rated')).status).toBe(429);
    expect((await raw(0, 'POST', '/v1/conversations', 'tg-rated', {})).status).toBe(429);
  });
});
