// Conversations outlive the counter store's records of them: their owners are kept in the ledger too, so a
// gateway restarted on memory counters (or a flushed Redis) still serves each conversation to the project
// that made it, and to no other. Conversations without an owner are refused, so without this every
// conversation made before a restart would be lost to its own project. On both ledgers.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMockUpstream, type MockUpstream } from '../src/mock-upstream/index.js';
import { LEDGER_KINDS, type LedgerPlace } from './helpers/ledgers.js';
import { startUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';

const UPSTREAM_KEY = 'sk-upstream-secret';

describe.each(LEDGER_KINDS)('conversation owners across a restart: $kind ledger', ({ place: makePlace }) => {
  let upstream: MockUpstream;
  let place: LedgerPlace;
  let yaml: string;
  let gw: UsageTestGateway | undefined;

  beforeAll(async () => {
    upstream = createMockUpstream({ latencyMs: 0, outputTokens: 8, apiKey: UPSTREAM_KEY });
    const url = await upstream.listen(0, '127.0.0.1');
    place = await makePlace();
    yaml = `
storage: {ledger: "${place.url}"}
providers: {openai: {type: openai, base_url: "${url}/v1", api_key: ${UPSTREAM_KEY}}}
projects: {web: {daily_limit: 1000000}, mobile: {daily_limit: 1000000}}
routes: {r: {chat_models: [{model_id: gpt-4.1, model: openai/gpt-4.1}]}}
keys: [{id: web, key: tg-web, project: web}, {id: mobile, key: tg-mobile, project: mobile}]
`;
  });
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
    await place?.drop();
  });

  const client = (key: string) => new OpenAI({ baseURL: `${gw!.url}/v1`, apiKey: key, maxRetries: 0 });

  it('serves each conversation to its own project after a restart on memory counters, and to no other', async () => {
    gw = await startUsageGateway(yaml);
    const conversation = await client('tg-web').conversations.create({ items: [{ type: 'message', role: 'user', content: 'Before the restart.' }] });
    // Written to the ledger after the answer, never delaying it.
    await expect.poll(() => gw!.usage.ledger.conversationOwner(conversation.id)).toEqual({ organization: 'default', project: 'web', provider: 'openai' });
    await gw.close();

    gw = await startUsageGateway(yaml);
    expect(await gw.store.responseOwner(conversation.id)).toBeUndefined(); // a new memory store: nothing in it
    upstream.clearRequests();
    await expect(client('tg-mobile').conversations.items.list(conversation.id)).rejects.toMatchObject({ status: 404 });
    await expect(client('tg-mobile').responses.create({ model: 'gpt-4.1', conversation: conversation.id, input: 'Tell me.' })).rejects.toMatchObject({ status: 404 });
    expect(upstream.requests()).toEqual([]);

    expect((await client('tg-web').conversations.items.list(conversation.id)).data).toHaveLength(1);
    const turn = await client('tg-web').responses.create({ model: 'gpt-4.1', conversation: conversation.id, input: 'After it.', max_output_tokens: 20 });
    expect(turn.status).toBe('completed');
    // Back in the counter store, with the size the turn left: the ledger is not asked again.
    await expect.poll(async () => (await gw!.store.responseOwner(conversation.id))?.contextTokens).toBe(turn.usage!.input_tokens + turn.usage!.output_tokens);
  });

  it('answers 503 while neither the counter store nor the ledger can say whose a conversation is', async () => {
    const conversation = await client('tg-web').conversations.create({});
    await expect.poll(() => gw!.usage.ledger.conversationOwner(conversation.id)).toBeDefined();
    await gw!.close();
    gw = await startUsageGateway(yaml);
    const archive = gw.gateway.conversationArchive!;
    gw.gateway.conversationArchive = { recordConversation: archive.recordConversation.bind(archive), conversationOwner: () => Promise.reject(new Error('ledger down')) };
    await expect(client('tg-web').conversations.retrieve(conversation.id)).rejects.toMatchObject({ status: 503, error: { code: 'owners_unavailable' } });
    gw.gateway.conversationArchive = archive;
    expect((await client('tg-web').conversations.retrieve(conversation.id)).id).toBe(conversation.id);
  });
});
