// The Responses API's retrieval endpoints through the gateway (GET/DELETE /v1/responses/{id}, POST
// .../cancel, GET .../input_items), with per-project ownership: every tenant shares the gateway's provider
// key, so without it any key holding a response id could read (or delete, or continue) another tenant's
// response. The official SDK against the mock upstream, which stores what it created.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CounterItem } from '../src/limits/counter-store.js';
import { createMockUpstream, type MockUpstream } from '../src/mock-upstream/index.js';
import { startBehindMock, stopBehindMock, type TestGateway } from './helpers/in-process.js';
import { until } from './helpers/until.js';

const UPSTREAM_KEY = 'sk-upstream-secret';
let upstream: MockUpstream;
let slow: MockUpstream;
let gw: TestGateway;

beforeAll(async () => {
  // A second upstream that paces its events, to see a resumed stream arrive event by event.
  slow = createMockUpstream({ latencyMs: 0, outputTokens: 6, chunkDelayMs: 150, apiKey: UPSTREAM_KEY });
  const slowUrl = await slow.listen(0, '127.0.0.1');
  ({ upstream, gw } = await startBehindMock({ latencyMs: 0, outputTokens: 12, apiKey: UPSTREAM_KEY }, (url) => `
providers:
  openai: {type: openai, base_url: "${url}/v1", api_key: ${UPSTREAM_KEY}}
  slow: {type: openai, base_url: "${slowUrl}/v1", api_key: ${UPSTREAM_KEY}}
organizations: {acme: {}, rival: {}}
projects: {web: {daily_limit: 1000000}, mobile: {daily_limit: 1000000}}
users: {limited: {daily_limit: 1000000, rate_limit: 3}}
routes:
  r:
    chat_models: [{model_id: gpt-4.1, model: openai/gpt-4.1}, {model_id: slow-4.1, model: slow/gpt-4.1}]
keys:
  - {id: web1, key: tg-web1, organization: acme, project: web}
  - {id: web2, key: tg-web2, organization: acme, project: web}
  - {id: mobile, key: tg-mobile, organization: acme, project: mobile}
  - {id: rival-web, key: tg-rival-web, organization: rival, project: web}
  - {id: noproject, key: tg-noproject, organization: acme}
  - {id: rated, key: tg-rated, organization: acme, project: web, user: rita, tier: limited}
`));
});
afterAll(async () => {
  await stopBehindMock(gw, upstream);
  await slow?.close();
});

const client = (key = 'tg-web1') => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 });
const retrievals = () => upstream.requests().filter((r) => r.path.startsWith('/v1/responses/'));
/** What OpenAI answers for a response id it does not have. */
const unknownId = (id: string) => ({ error: { message: `Response with id '${id}' not found.`, type: 'invalid_request_error', param: null, code: null } });

async function raw(method: string, path: string, key: string | undefined, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${gw.url}${path}`, { method, ...init, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(init.headers as Record<string, string>) } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/**
 * Background calls made here are followed by the gateway until the mock reports them completed (its first
 * poll, a second after the answer): waited for where a test counts upstream requests or open reservations.
 */
function backgroundSettled(): Promise<void> {
  return until(() => gw.gateway.background.size === 0);
}

/** The project `web`'s daily counter, as the limits see it. */
async function webDailyUsed(): Promise<number> {
  const item: CounterItem = { key: 'tg:{acme}:project:web:daily:fixed_window', algorithm: 'fixed_window', window: { kind: 'calendar', unit: 'day' }, max: 1_000_000, weights: { input: 1, output: 1, request: 0 }, mode: 'enforce' };
  return (await gw.store.peek([item]))[0].used;
}

describe('retrieval by the project that created the response', () => {
  it('retrieves, lists input items, cancels and deletes, with the provider key and never the client key', async () => {
    const created = await client().responses.create({ model: 'gpt-4.1', input: 'Tell me a story.', background: true, max_output_tokens: 50 });
    expect(created).toMatchObject({ status: 'queued', output: [], usage: null });
    await backgroundSettled();
    upstream.clearRequests();

    // Another key of the same project may read it: ownership is the project's, not the key's.
    const got = await client('tg-web2').responses.retrieve(created.id);
    expect(got).toMatchObject({ id: created.id, object: 'response', status: 'completed', usage: { output_tokens: expect.any(Number) } });
    expect(got.output.length).toBeGreaterThan(0);
    const items = await client().responses.inputItems.list(created.id);
    expect(items.data).toEqual([expect.objectContaining({ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Tell me a story.' }] })]);
    const cancelled = await client().responses.cancel(created.id);
    expect(cancelled.id).toBe(created.id);
    await client().responses.delete(created.id);
    // Deleted at the provider: its own 404 comes back as it is.
    await expect(client().responses.retrieve(created.id)).rejects.toMatchObject({ status: 404, error: unknownId(created.id).error });

    const sent = retrievals();
    expect(sent.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /v1/responses/${created.id}`,
      `GET /v1/responses/${created.id}/input_items`,
      `POST /v1/responses/${created.id}/cancel`,
      `DELETE /v1/responses/${created.id}`,
      `GET /v1/responses/${created.id}`,
    ]);
    for (const r of sent) {
      expect(r.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
      expect(JSON.stringify(r.headers)).not.toContain('tg-web');
    }
  });

  it('passes the query string on (input_items order and limit)', async () => {
    const created = await client().responses.create({
      model: 'gpt-4.1',
      input: [
        { role: 'user', content: 'first' },
        { role: 'user', content: 'second' },
      ],
      max_output_tokens: 50,
    });
    upstream.clearRequests();
    const page = await client().responses.inputItems.list(created.id, { order: 'asc', limit: 1 });
    expect(page.data.map((i) => (i as { content: Array<{ text: string }> }).content[0].text)).toEqual(['first']);
    expect(retrievals()[0].url).toBe(`/v1/responses/${created.id}/input_items?order=asc&limit=1`);
  });

  it("leaves a credential-named query parameter behind: a client's own key in ?api_key= never goes upstream", async () => {
    const created = await client().responses.create({ model: 'gpt-4.1', input: 'first', max_output_tokens: 50 });
    upstream.clearRequests();
    const query = 'order=asc&api_key=tg-web1&limit=1&Token=x&sig=y&x%2Dapi%2Dkey=z';
    const res = await fetch(`${gw.url}/v1/responses/${created.id}/input_items?${query}`, { headers: { authorization: 'Bearer tg-web1' } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: unknown[] }).data).toHaveLength(1);
    expect(retrievals()[0].url).toBe(`/v1/responses/${created.id}/input_items?order=asc&limit=1`);
  });

  it('records a streamed response under the id of its events, and resumes its stream event by event', async () => {
    const stream = client().responses.stream({ model: 'slow-4.1', input: 'Count.', max_output_tokens: 50 });
    const done = await stream.finalResponse();
    const resumed = await client().responses.retrieve(done.id, { stream: true, starting_after: 2 });
    const arrivals: Array<{ sequence: number; atMs: number }> = [];
    const t0 = performance.now();
    for await (const event of resumed) arrivals.push({ sequence: event.sequence_number, atMs: performance.now() - t0 });
    // Every event after the third, in order, the last one the completed response.
    expect(arrivals.map((a) => a.sequence)).toEqual(Array.from({ length: arrivals.length }, (_, i) => i + 3));
    expect(arrivals.length).toBeGreaterThan(5);
    // Passed through as the provider sends them (150 ms apart), not buffered to the end.
    expect(arrivals[arrivals.length - 1].atMs - arrivals[0].atMs).toBeGreaterThan(500);
  });

  it('an empty-bodied POST .../cancel sent with a JSON content type is served, not refused as bad JSON', async () => {
    const created = await client().responses.create({ model: 'gpt-4.1', input: 'Hi.', background: true, max_output_tokens: 50 });
    const res = await raw('POST', `/v1/responses/${created.id}/cancel`, 'tg-web1', { headers: { 'content-type': 'application/json' } });
    expect(res).toMatchObject({ status: 200, body: { id: created.id, object: 'response' } });
    await backgroundSettled();
  });

  it('consumes no tokens, but counts against the key tier rate_limit (requests per minute)', async () => {
    const created = await client('tg-rated').responses.create({ model: 'gpt-4.1', input: 'Hi.', max_output_tokens: 50 });
    const before = await webDailyUsed();
    const ok = await client('tg-rated').responses.retrieve(created.id).withResponse();
    expect(ok.response.headers.get('x-ratelimit-remaining-requests')).toBe('1');
    await client('tg-rated').responses.inputItems.list(created.id);
    await expect(client('tg-rated').responses.retrieve(created.id)).rejects.toMatchObject({ status: 429 });
    expect(await webDailyUsed()).toBe(before);
    expect(await gw.store.openReservations()).toBe(0);
  });
});

describe('another project, or another organization', () => {
  let created: OpenAI.Responses.Response;
  beforeAll(async () => {
    created = await client().responses.create({ model: 'gpt-4.1', input: 'A secret plan.', background: true, max_output_tokens: 50 });
    await backgroundSettled();
  });

  it.each(['tg-mobile', 'tg-rival-web', 'tg-noproject'])('%s gets OpenAI’s 404 for an unknown id on every endpoint, and nothing reaches the provider', async (key) => {
    upstream.clearRequests();
    const id = created.id;
    for (const [method, path] of [
      ['GET', `/v1/responses/${id}`],
      ['GET', `/v1/responses/${id}?stream=true`],
      ['GET', `/v1/responses/${id}/input_items`],
      ['POST', `/v1/responses/${id}/cancel`],
      ['DELETE', `/v1/responses/${id}`],
    ] as const) {
      expect(await raw(method, path, key)).toEqual({ status: 404, body: unknownId(id) });
    }
    await expect(client(key).responses.retrieve(id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect(retrievals()).toEqual([]);
    // Still there for its owner.
    expect((await client().responses.retrieve(id)).id).toBe(id);
  });

  it('an id never recorded gets the very same answer, so another project’s ids are not even confirmed to exist', async () => {
    upstream.clearRequests();
    const never = 'resp_0123456789abcdef0123456789abcdef0123456789abcdef';
    expect(await raw('GET', `/v1/responses/${never}`, 'tg-web1')).toEqual({ status: 404, body: unknownId(never) });
    expect(await raw('GET', `/v1/responses/${encodeURIComponent('resp_../../files')}`, 'tg-web1')).toEqual({ status: 404, body: unknownId('resp_../../files') });
    // Longer than the router's default 100 characters a path parameter may have: still this endpoint's answer.
    const long = `resp_${'a'.repeat(150)}`;
    expect(await raw('GET', `/v1/responses/${long}/input_items`, 'tg-web1')).toEqual({ status: 404, body: unknownId(long) });
    expect(retrievals()).toEqual([]);
  });

  it('previous_response_id naming it: the same kind of 404, before anything is reserved or sent', async () => {
    upstream.clearRequests();
    const before = await webDailyUsed();
    const calls = gw.calls.length;
    const attempt = client('tg-rival-web').responses.create({ model: 'gpt-4.1', previous_response_id: created.id, input: 'Go on.', max_output_tokens: 50 });
    await expect(attempt).rejects.toMatchObject({
      status: 404,
      error: { message: `Previous response with id '${created.id}' not found.`, type: 'invalid_request_error', param: 'previous_response_id', code: 'previous_response_not_found' },
    });
    const mobile = client('tg-mobile').responses.stream({ model: 'gpt-4.1', previous_response_id: created.id, input: 'Go on.', max_output_tokens: 50 });
    await expect(mobile.finalResponse()).rejects.toMatchObject({ status: 404 });
    expect(upstream.requests()).toEqual([]);
    expect(gw.calls.length).toBe(calls);
    expect(await webDailyUsed()).toBe(before);
    expect(await gw.store.openReservations()).toBe(0);

    // Nor does the id with something around it, which no response has, but a lenient provider might read as it.
    for (const variant of [`${created.id} `, ` ${created.id}`, `${created.id}\n`, `${created.id}/`]) {
      await expect(client('tg-rival-web').responses.create({ model: 'gpt-4.1', previous_response_id: variant, input: 'Go on.' })).rejects.toMatchObject({
        status: 404,
        error: { code: 'previous_response_not_found' },
      });
    }
    expect(upstream.requests()).toEqual([]);

    // Its own project continues it; an id with no record (made before, or elsewhere) is forwarded as before.
    await client('tg-web2').responses.create({ model: 'gpt-4.1', previous_response_id: created.id, input: 'Go on.', max_output_tokens: 50 });
    await client('tg-mobile').responses.create({ model: 'gpt-4.1', previous_response_id: 'resp_made_directly_at_the_provider', input: 'Go on.', max_output_tokens: 50 });
    expect(upstream.requests().map((r) => (r.body as { previous_response_id: string }).previous_response_id)).toEqual([created.id, 'resp_made_directly_at_the_provider']);
  });
});

describe('recording', () => {
  it('only Responses calls record an owner, and not those made with store: false', async () => {
    const recorded: string[] = [];
    const original = gw.store.recordResponse.bind(gw.store);
    gw.store.recordResponse = async (id, owner, ttl) => {
      recorded.push(id);
      return original(id, owner, ttl);
    };
    try {
      await client().chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'Hi.' }] });
      const unstored = await client().responses.create({ model: 'gpt-4.1', input: 'Hi.', store: false, max_output_tokens: 50 });
      const stored = await client().responses.create({ model: 'gpt-4.1', input: 'Hi.', max_output_tokens: 50 });
      expect(recorded).toEqual([stored.id]);
      expect(unstored.id).not.toBe(stored.id);
    } finally {
      gw.store.recordResponse = original;
    }
  });

  it('a record that fails or never completes neither fails nor delays the call', async () => {
    const original = gw.store.recordResponse.bind(gw.store);
    try {
      gw.store.recordResponse = () => new Promise(() => {}); // a store that never answers
      const hung = await client().responses.create({ model: 'gpt-4.1', input: 'Hi.', max_output_tokens: 50 }).withResponse();
      expect(hung.data.status).toBe('completed');
      // Nor what follows the answer: the call is settled and recorded (its ledger row) all the same.
      await vi.waitFor(() => expect(gw.calls.some((c) => c.requestId === hung.request_id)).toBe(true), { timeout: 1000 });
      gw.store.recordResponse = () => Promise.reject(new Error('store down'));
      const failed = await client().responses.stream({ model: 'gpt-4.1', input: 'Hi.', max_output_tokens: 50 }).finalResponse();
      expect(failed.status).toBe('completed');
      // Unrecorded, so unreadable through the gateway (a 404), even by its own project.
      await expect(client().responses.retrieve(failed.id)).rejects.toMatchObject({ status: 404 });
    } finally {
      gw.store.recordResponse = original;
    }
  });
});

describe('a store that cannot say who owns a response', () => {
  it('is never taken to mean the caller does: retrievals are a 503, and so are continuations unless limits fail open', async () => {
    const created = await client().responses.create({ model: 'gpt-4.1', input: 'Hi.', max_output_tokens: 50 });
    const original = gw.store.responseOwner.bind(gw.store);
    gw.store.responseOwner = () => Promise.reject(new Error('store down'));
    upstream.clearRequests();
    try {
      expect(await raw('GET', `/v1/responses/${created.id}`, 'tg-web1')).toMatchObject({ status: 503, body: { error: { code: 'store_unavailable' } } });
      const follow = () => client().responses.create({ model: 'gpt-4.1', previous_response_id: created.id, input: 'Go on.', max_output_tokens: 50 });
      await expect(follow()).rejects.toMatchObject({ status: 503 });
      expect(upstream.requests()).toEqual([]);
      // Where limits fail open, an owner that cannot be read is treated as an id with no record: forwarded.
      Object.assign(gw.store, { mode: 'fail_open' });
      expect((await follow()).status).toBe('completed');
    } finally {
      gw.store.responseOwner = original;
      delete (gw.store as { mode?: string }).mode;
    }
  });
});

describe('authentication', () => {
  it('answers 401 without a valid key, as the other endpoints do', async () => {
    expect(await raw('GET', '/v1/responses/resp_abc', undefined)).toMatchObject({ status: 401, body: { error: { code: 'missing_api_key' } } });
    expect(await raw('DELETE', '/v1/responses/resp_abc', 'tg-nope')).toMatchObject({ status: 401, body: { error: { code: 'invalid_api_key' } } });
  });
});
