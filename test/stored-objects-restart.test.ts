// Stored responses and conversations outlive the counter store's records of them: the ledger keeps their
// owners too (a conversation's in its own table, a response's in the row of the call that made it), so a
// gateway restarted on memory counters (or a flushed Redis) still serves each to the project that made it,
// and to no other. Without it, every conversation (refused without an owner) and every stored response
// made before a restart was lost to its own project, and another project's response could be continued.
// On both ledgers.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMockUpstream, type MockUpstream } from '../src/mock-upstream/index.js';
import { LEDGER_KINDS, type LedgerPlace } from './helpers/ledgers.js';
import { startUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';

const UPSTREAM_KEY = 'sk-upstream-secret';

describe.each(LEDGER_KINDS)('stored-object owners across a restart: $kind ledger', ({ place: makePlace }) => {
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
  /** The input tokens the call reserved, as its ledger row says. */
  async function reservedInput(requestId: string | null): Promise<number> {
    await gw!.usage.writer.flush();
    const [row] = await gw!.usage.ledger.rows({ requestIds: [requestId!] });
    return row.reservedInput;
  }

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
    // Its size is not in the ledger: items added now leave it unknown (the allowance), not the items' bound alone.
    await client('tg-web').conversations.items.create(conversation.id, { items: [{ type: 'message', role: 'user', content: 'Added after.' }] });
    expect(await gw.store.responseOwner(conversation.id)).toEqual({ organization: 'default', project: 'web', provider: 'openai' });
    const turn = await client('tg-web').responses.create({ model: 'gpt-4.1', conversation: conversation.id, input: 'After it.', max_output_tokens: 20 });
    expect(turn.status).toBe('completed');
    // Back in the counter store, with the size the turn left: the ledger is not asked again.
    await expect.poll(async () => (await gw!.store.responseOwner(conversation.id))?.contextTokens).toBe(turn.usage!.input_tokens + turn.usage!.output_tokens);
  });

  it('serves each stored response to its own project after a restart, refuses it to others, and reserves its size for a follow-up', async () => {
    const made = await client('tg-web').responses.create({ model: 'gpt-4.1', input: 'Remember the number 7.', max_output_tokens: 20 });
    await gw!.close(); // flushes the ledger, as SIGTERM does
    gw = await startUsageGateway(yaml);
    upstream.clearRequests();
    await expect(client('tg-mobile').responses.retrieve(made.id)).rejects.toMatchObject({ status: 404 });
    await expect(client('tg-mobile').responses.create({ model: 'gpt-4.1', previous_response_id: made.id, input: 'Which number?' })).rejects.toMatchObject({
      status: 404,
      error: { code: 'previous_response_not_found' },
    });
    expect(upstream.requests()).toEqual([]);

    expect((await client('tg-web').responses.retrieve(made.id)).output).toEqual(made.output);
    const followUp = await client('tg-web').responses.create({ model: 'gpt-4.1', previous_response_id: made.id, input: 'Which number?', max_output_tokens: 20 }).withResponse();
    const plain = await client('tg-web').responses.create({ model: 'gpt-4.1', input: 'Which number?', max_output_tokens: 20 }).withResponse();
    // Not the 128,000-token allowance for unseen context: the size the ledger's row has (input + output).
    expect((await reservedInput(followUp.request_id)) - (await reservedInput(plain.request_id))).toBe(made.usage!.input_tokens + made.usage!.output_tokens);
  });

  it('answers 503 while neither the counter store nor the ledger can say whose a conversation is', async () => {
    const conversation = await client('tg-web').conversations.create({});
    await expect.poll(() => gw!.usage.ledger.conversationOwner(conversation.id)).toBeDefined();
    await gw!.close();
    gw = await startUsageGateway(yaml);
    const archive = gw.gateway.ownerArchive!;
    gw.gateway.ownerArchive = {
      recordConversation: (...args) => archive.recordConversation(...args),
      responseOwner: (...args) => archive.responseOwner(...args),
      conversationOwner: () => Promise.reject(new Error('ledger down')),
    };
    await expect(client('tg-web').conversations.retrieve(conversation.id)).rejects.toMatchObject({ status: 503, error: { code: 'owners_unavailable' } });
    gw.gateway.ownerArchive = archive;
    expect((await client('tg-web').conversations.retrieve(conversation.id)).id).toBe(conversation.id);
  });
});
