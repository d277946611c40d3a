// OpenAI's Conversations API through the gateway, scoped per project: every tenant shares the gateway's
// provider key, so without ownership any key holding a conversation id could read another tenant's
// conversation, add to it, or continue it with `conversation` on a Responses call. The official SDK
// against the mock upstream, which keeps the conversations it made.
import { request } from 'node:http';
import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { estimateInput } from '../src/tokens/index.js';
import { useBehindMock } from './helpers/use-test-gateway.js';

const UPSTREAM_KEY = 'sk-upstream-secret';

const { gw, upstream, upstreamUrl } = useBehindMock({ latencyMs: 0, outputTokens: 12, apiKey: UPSTREAM_KEY }, (url) => `
providers:
  openai: {type: openai, base_url: "${url}/v1", api_key: ${UPSTREAM_KEY}}
  claude: {type: anthropic, base_url: "${url}", api_key: ${UPSTREAM_KEY}}
organizations: {acme: {}, rival: {}}
projects: {web: {daily_limit: 1000000}, mobile: {daily_limit: 1000000}, small: {daily_limit: 3000}}
enforcement: {stored_context_tokens: 0}
routes:
  r: {chat_models: [{model_id: gpt-4.1, model: openai/gpt-4.1}, {model_id: gpt-4o-mini, model: openai/gpt-4o-mini}]}
  c: {chat_models: [{model_id: claude-sonnet-4-5, model: claude/claude-sonnet-4-5}]}
keys:
  - {id: web1, key: tg-web1, organization: acme, project: web, routes: [c, r]}
  - {id: web2, key: tg-web2, organization: acme, project: web}
  - {id: mobile, key: tg-mobile, organization: acme, project: mobile}
  - {id: rival-web, key: tg-rival-web, organization: rival, project: web}
  - {id: noproject, key: tg-noproject, organization: acme}
  - {id: small, key: tg-small, organization: acme, project: small}
  - {id: claude-only, key: tg-claude, organization: acme, project: web, routes: [c]}
`);

const client = (key = 'tg-web1') => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: key, maxRetries: 0 });
const conversationRequests = () => upstream().requests().filter((r) => r.path.startsWith('/v1/conversations'));
/** What OpenAI answers for a conversation id it does not have. */
const unknownId = (id: string) => ({ error: { message: `Conversation with id '${id}' not found.`, type: 'invalid_request_error', param: null, code: null } });

async function raw(method: string, path: string, key: string | undefined, body?: unknown): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${gw().url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** The status of a GET of `path` exactly as written, with tg-web1's key. */
function rawPath(path: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(gw().url);
    const req = request({ hostname, port, path, headers: { authorization: 'Bearer tg-web1' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end();
  });
}

const text = (item: unknown): string | undefined => (item as { content?: Array<{ text?: string }> }).content?.[0]?.text;

describe('the project that created the conversation', () => {
  it('creates, reads, updates, lists and adds items, and deletes, with the provider key and never the client key', async () => {
    upstream().clearRequests();
    const conversation = await client().conversations.create({ metadata: { topic: 'launch' }, items: [{ type: 'message', role: 'user', content: 'We launch on Monday.' }] });
    expect(conversation).toMatchObject({ id: expect.stringMatching(/^conv_/), object: 'conversation', metadata: { topic: 'launch' } });
    // Another key of the same project may use it: ownership is the project's, not the key's.
    expect(await client('tg-web2').conversations.retrieve(conversation.id)).toEqual(conversation);
    const updated = await client().conversations.update(conversation.id, { metadata: { topic: 'relaunch' } });
    expect(updated.metadata).toEqual({ topic: 'relaunch' });
    const added = await client().conversations.items.create(conversation.id, { items: [{ type: 'message', role: 'user', content: 'Bring cake.' }] });
    expect(added.data.map(text)).toEqual(['Bring cake.']);
    const listed = await client().conversations.items.list(conversation.id, { order: 'asc' });
    expect(listed.data.map(text)).toEqual(['We launch on Monday.', 'Bring cake.']);
    const itemId = (added.data[0] as { id: string }).id;
    expect(text(await client().conversations.items.retrieve(itemId, { conversation_id: conversation.id }))).toBe('Bring cake.');
    await client().conversations.items.delete(itemId, { conversation_id: conversation.id });
    expect((await client().conversations.items.list(conversation.id)).data.map(text)).toEqual(['We launch on Monday.']);
    expect(await client().conversations.delete(conversation.id)).toEqual({ id: conversation.id, object: 'conversation.deleted', deleted: true });
    // Deleted at the provider: its own 404 comes back as it is.
    await expect(client().conversations.retrieve(conversation.id)).rejects.toMatchObject({ status: 404, error: unknownId(conversation.id).error });

    const sent = conversationRequests();
    expect(sent.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /v1/conversations',
      `GET /v1/conversations/${conversation.id}`,
      `POST /v1/conversations/${conversation.id}`,
      `POST /v1/conversations/${conversation.id}/items`,
      `GET /v1/conversations/${conversation.id}/items?order=asc`,
      `GET /v1/conversations/${conversation.id}/items/${itemId}`,
      `DELETE /v1/conversations/${conversation.id}/items/${itemId}`,
      `GET /v1/conversations/${conversation.id}/items`,
      `DELETE /v1/conversations/${conversation.id}`,
      `GET /v1/conversations/${conversation.id}`,
    ]);
    // Bodies go on as the client sent them.
    expect(sent[0].body).toEqual({ metadata: { topic: 'launch' }, items: [{ type: 'message', role: 'user', content: 'We launch on Monday.' }] });
    for (const r of sent) {
      expect(r.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
      expect(JSON.stringify(r.headers)).not.toContain('tg-web');
    }
  });

  it('continues it with `conversation` on a Responses call, streamed or not, and the turns land in it', async () => {
    const conversation = await client().conversations.create({});
    const first = await client().responses.create({ model: 'gpt-4.1', conversation: conversation.id, input: 'Plan the party.', max_output_tokens: 50 });
    const second = await client('tg-web2').responses.stream({ model: 'gpt-4.1', conversation: { id: conversation.id }, input: 'And the music?', max_output_tokens: 50 }).finalResponse();
    expect([first.status, second.status]).toEqual(['completed', 'completed']);
    const items = (await client().conversations.items.list(conversation.id, { order: 'asc' })).data;
    expect(items.map((i) => `${i.type}:${(i as { role?: string }).role}`)).toEqual(['message:user', 'message:assistant', 'message:user', 'message:assistant']);
    expect(items.map(text)[2]).toBe('And the music?');
    // Its record carries the last turn's input and output: what the next turn reserves, on any instance.
    expect((await gw().store.responseOwner(conversation.id))?.contextTokens).toBe(second.usage!.input_tokens + second.usage!.output_tokens);
  });

  it('reserves what the conversation holds: items added count against the next turn before it is sent', async () => {
    // stored_context_tokens is 0 here: without the recorded size, this turn would reserve only its own few tokens.
    const conversation = await client('tg-small').conversations.create({ items: [{ type: 'message', role: 'user', content: 'Remember this.' }] });
    const initial = (await gw().store.responseOwner(conversation.id))!.contextTokens!;
    expect(initial).toBeGreaterThan(0);
    const long = 'minutes of the meeting '.repeat(800);
    await client('tg-small').conversations.items.create(conversation.id, { items: [{ type: 'message', role: 'user', content: long }] });
    expect((await gw().store.responseOwner(conversation.id))!.contextTokens).toBeGreaterThan(initial + 3000);
    upstream().clearRequests();
    const turn = client('tg-small').responses.create({ model: 'gpt-4.1', conversation: conversation.id, input: 'Summarize.', max_output_tokens: 50 });
    await expect(turn).rejects.toMatchObject({ status: 400, error: { code: 'request_over_window' } });
    expect(upstream().requests()).toEqual([]);
    expect(await gw().store.openReservations()).toBe(0);
  });
});

describe('items added while a turn runs', () => {
  it('still count after it: the turn grows the record by what it changed, and does not overwrite their size', async () => {
    const conversation = await client().conversations.create({ items: [{ type: 'message', role: 'user', content: 'Remember this.' }] });
    upstream().clearRequests();
    // Held at the provider for a while, so the items below are added while the gateway waits for its answer.
    const turn = client().responses.create({ model: 'gpt-4.1', conversation: conversation.id, input: 'Go on.', max_output_tokens: 50, mock_latency_ms: 400 } as never);
    await expect.poll(() => upstream().requests().filter((r) => r.path === '/v1/responses').length, { timeout: 5000, interval: 10 }).toBe(1);
    const before = (await gw().store.responseOwner(conversation.id))!.contextTokens!;
    await client().conversations.items.create(conversation.id, { items: [{ type: 'message', role: 'user', content: 'minutes of the meeting '.repeat(300) }] });
    const added = (await gw().store.responseOwner(conversation.id))!.contextTokens! - before;
    expect(added).toBeGreaterThan(1000);
    const done = (await turn) as { usage: { input_tokens: number; output_tokens: number } };
    // What the turn carried, and the items added meanwhile, which the provider's count for the turn did not hold
    // (before: the turn's own 22 tokens alone, where 6,932 are held).
    expect((await gw().store.responseOwner(conversation.id))!.contextTokens).toBe(done.usage.input_tokens + done.usage.output_tokens + added);
  });
});

describe('a background turn in a conversation', () => {
  it('leaves its record at what the turn carried once it ends, sized by its grant meanwhile', async () => {
    const conversation = await client().conversations.create({ items: [{ type: 'message', role: 'user', content: 'Remember this.' }] });
    const started = await client().responses.create({ model: 'gpt-4.1', conversation: conversation.id, input: 'Go on.', max_output_tokens: 50, background: true });
    await expect.poll(async () => (await client().responses.retrieve(started.id)).status, { timeout: 10_000, interval: 50 }).toBe('completed');
    const done = await client().responses.retrieve(started.id);
    // Remembered twice (its grant, then its usage): the second change starts from the first, not from the
    // record as the turn read it, or the grant's change would stay in it too.
    const carried = done.usage!.input_tokens + done.usage!.output_tokens;
    await expect.poll(async () => (await gw().store.responseOwner(conversation.id))!.contextTokens, { timeout: 10_000, interval: 50 }).toBe(carried);
  });
});

describe('items with images', () => {
  it('reserve what the costliest model could bill for them, as the model of the next turn is not known yet', async () => {
    // An image the gateway cannot measure costs gpt-4o 1,445 tokens at most, gpt-4o-mini 48,169, and at low
    // detail gpt-4.1-nano 3,779 (its patches ignore detail) where gpt-4o-mini bills 2,833.
    const image = (detail: 'high' | 'low') => ({ type: 'message' as const, role: 'user' as const, content: [{ type: 'input_image' as const, image_url: 'https://example.com/chart.png', detail }] });
    for (const detail of ['high', 'low'] as const) {
      const items = [image(detail)];
      const conversation = await client().conversations.create({ items });
      const reserved = (await gw().store.responseOwner(conversation.id))!.contextTokens!;
      for (const model of ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1-nano', 'o4-mini']) {
        expect(reserved, `${detail} detail, ${model}`).toBeGreaterThanOrEqual(estimateInput('responses', { input: items }, model).upperBound);
      }
      // The turn on gpt-4o-mini reserves it before anything is sent.
      await client().responses.create({ model: 'gpt-4o-mini', conversation: conversation.id, input: 'Describe it.', max_output_tokens: 16 });
      expect(gw().calls.at(-1)!.reserved.input).toBeGreaterThanOrEqual(reserved);
    }
  });
});

describe('item ids', () => {
  it('are refused when they could name something else to a server that normalizes paths (a leading dot)', async () => {
    const { id } = await client().conversations.create({});
    upstream().clearRequests();
    // Sent as written: fetch would resolve a `%2E%2E` segment itself before sending.
    for (const item of ['.x', '%2E%2E']) expect(await rawPath(`/v1/conversations/${id}/items/${item}`)).toBe(400);
    expect(upstream().requests()).toEqual([]);
  });
});

describe('another project, another organization, or no record', () => {
  let conversationId: string;
  beforeAll(async () => {
    conversationId = (await client().conversations.create({ items: [{ type: 'message', role: 'user', content: 'A secret plan.' }] })).id;
  });

  it.each(['tg-mobile', 'tg-rival-web', 'tg-noproject'])('%s gets OpenAI’s 404 for an unknown id on every endpoint, and nothing reaches the provider', async (key) => {
    upstream().clearRequests();
    const id = conversationId;
    for (const [method, path, body] of [
      ['GET', `/v1/conversations/${id}`],
      ['POST', `/v1/conversations/${id}`, { metadata: { x: 'y' } }],
      ['DELETE', `/v1/conversations/${id}`],
      ['GET', `/v1/conversations/${id}/items`],
      ['POST', `/v1/conversations/${id}/items`, { items: [{ type: 'message', role: 'user', content: 'Injected.' }] }],
      ['GET', `/v1/conversations/${id}/items/msg_1`],
      ['DELETE', `/v1/conversations/${id}/items/msg_1`],
    ] as const) {
      expect(await raw(method, path, key, body)).toEqual({ status: 404, body: unknownId(id) });
    }
    await expect(client(key).conversations.retrieve(id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect(upstream().requests()).toEqual([]);
    // Still whole for its owner.
    expect((await client().conversations.items.list(id)).data.map(text)).toEqual(['A secret plan.']);
  });

  it('a Responses call naming it is refused with the same 404 before anything is reserved or sent', async () => {
    upstream().clearRequests();
    const calls = gw().calls.length;
    const refused = { status: 404, error: { message: `Conversation with id '${conversationId}' not found.`, type: 'invalid_request_error', param: 'conversation', code: null } };
    await expect(client('tg-rival-web').responses.create({ model: 'gpt-4.1', conversation: conversationId, input: 'Tell me the plan.' })).rejects.toMatchObject(refused);
    await expect(client('tg-mobile').responses.stream({ model: 'gpt-4.1', conversation: { id: conversationId }, input: 'Tell me.' }).finalResponse()).rejects.toMatchObject({ status: 404 });
    expect(upstream().requests()).toEqual([]);
    expect(gw().calls.length).toBe(calls);
    expect(await gw().store.openReservations()).toBe(0);
  });

  it('a conversation made with the provider key directly is refused to every key: forwarded, it would be open to all', async () => {
    const direct = await new OpenAI({ baseURL: `${upstreamUrl()}/v1`, apiKey: UPSTREAM_KEY, maxRetries: 0 }).conversations.create({ items: [{ type: 'message', role: 'user', content: 'Payroll.' }] });
    upstream().clearRequests();
    await expect(client().responses.create({ model: 'gpt-4.1', conversation: direct.id, input: 'Read it out.' })).rejects.toMatchObject({ status: 404, error: { param: 'conversation' } });
    expect(await raw('GET', `/v1/conversations/${direct.id}/items`, 'tg-web1')).toEqual({ status: 404, body: unknownId(direct.id) });
    // Nor does an id that could never have been recorded reach anything.
    expect(await raw('GET', `/v1/conversations/${encodeURIComponent('conv_../../files')}`, 'tg-web1')).toEqual({ status: 404, body: unknownId('conv_../../files') });
    expect(upstream().requests()).toEqual([]);
  });
});

describe('a store that cannot say who owns a conversation', () => {
  it('is never taken to mean the caller does: its endpoints are a 503, and so are turns in it unless limits fail open', async () => {
    const { id } = await client().conversations.create({});
    const original = gw().store.responseOwner.bind(gw().store);
    gw().store.responseOwner = () => Promise.reject(new Error('store down'));
    upstream().clearRequests();
    try {
      expect(await raw('GET', `/v1/conversations/${id}/items`, 'tg-web1')).toMatchObject({ status: 503, body: { error: { code: 'store_unavailable' } } });
      const turn = () => client().responses.create({ model: 'gpt-4.1', conversation: id, input: 'Go on.', max_output_tokens: 50 });
      await expect(turn()).rejects.toMatchObject({ status: 503 });
      expect(upstream().requests()).toEqual([]);
      // Where limits fail open, an owner that cannot be read is let through, as an unreadable previous_response_id is.
      Object.assign(gw().store, { mode: 'fail_open' });
      expect((await turn()).status).toBe('completed');
    } finally {
      gw().store.responseOwner = original;
      delete (gw().store as { mode?: string }).mode;
    }
  });
});

describe('creation', () => {
  it('goes to the first provider among the key’s models that keeps conversations, and to none when no model’s does', async () => {
    upstream().clearRequests();
    // tg-web1 lists the Anthropic route first: its conversation is still made on the OpenAI provider.
    const made = await client('tg-web1').conversations.create();
    expect(conversationRequests().map((r) => r.url)).toEqual(['/v1/conversations']);
    expect((await gw().store.responseOwner(made.id))?.provider).toBe('openai');
    await expect(client('tg-claude').conversations.create()).rejects.toMatchObject({ status: 400, error: { code: 'conversations_unavailable' } });
  });

  it('refuses a body that is not a JSON object, and passes the provider’s own refusals on', async () => {
    expect(await raw('POST', '/v1/conversations', 'tg-web1', [1, 2])).toMatchObject({ status: 400, body: { error: { code: 'invalid_request', message: 'The request body must be a JSON object.' } } });
    const tooMany = Array.from({ length: 21 }, () => ({ type: 'message', role: 'user', content: 'x' }));
    await expect(client().conversations.create({ items: tooMany as never })).rejects.toMatchObject({ status: 400, error: { param: 'items', code: 'array_above_max_length' } });
  });

  it('is a 503 when the owner cannot be recorded: the client is never handed a conversation nobody can use', async () => {
    const original = gw().store.recordResponse.bind(gw().store);
    gw().store.recordResponse = () => Promise.reject(new Error('store down'));
    try {
      await expect(client().conversations.create()).rejects.toMatchObject({ status: 503, error: { code: 'store_unavailable' } });
    } finally {
      gw().store.recordResponse = original;
    }
  });

  it('answers 401 without a valid key', async () => {
    expect(await raw('POST', '/v1/conversations', undefined, {})).toMatchObject({ status: 401, body: { error: { code: 'missing_api_key' } } });
    expect(await raw('GET', '/v1/conversations/conv_abc', 'tg-nope')).toMatchObject({ status: 401, body: { error: { code: 'invalid_api_key' } } });
  });
});
