// Response and conversation ownership shared by gateway instances on one Redis (database 12 of
// 127.0.0.1:6379): a response or conversation created through one instance is served through another to
// its project, and refused there to others.
import OpenAI from 'openai';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMockUpstream, type MockUpstream } from '../src/mock-upstream/index.js';
import { startStoreInstance, stopStoreInstance, type StoreInstance } from './helpers/store-instance.js';

const REDIS_URL = 'redis://127.0.0.1:6379/12';


let upstream: MockUpstream;
let redis: Redis;
const instances: StoreInstance[] = [];


beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  await redis.flushdb(); // database 12 is this test's alone
  upstream = createMockUpstream({ latencyMs: 0, outputTokens: 8 });
  const mockUrl = await upstream.listen(0, '127.0.0.1');
  const yaml = `
storage: {counters: "${REDIS_URL}", instances: 2}
enforcement: {stored_context_tokens: 50000}
providers: {openai: {type: openai, base_url: "${mockUrl}/v1", api_key: sk-test}}
projects: {web: {daily_limit: 1000000}, mobile: {daily_limit: 1000000}}
routes: {r: {chat_models: [{model_id: gpt-4.1, model: openai/gpt-4.1}]}}
keys: [{id: web, key: tg-web, project: web}, {id: mobile, key: tg-mobile, project: mobile}]
`;
  instances.push(await startStoreInstance(yaml), await startStoreInstance(yaml));
});

afterAll(async () => {
  for (const i of instances) await stopStoreInstance(i);
  await upstream?.close();
  await redis?.quit();
});

const client = (instance: number, key: string) => new OpenAI({ baseURL: `${instances[instance].url}/v1`, apiKey: key, maxRetries: 0 });

describe('response owners in Redis', () => {
  it('a response created through one instance is the project’s on every instance, and no other project’s', async () => {
    const created = await client(0, 'tg-web').responses.create({ model: 'gpt-4.1', input: 'Hi.', max_output_tokens: 50 });
    const streamed = await client(0, 'tg-web').responses.stream({ model: 'gpt-4.1', input: 'Hi.', max_output_tokens: 50 }).finalResponse();
    for (const id of [created.id, streamed.id]) {
      // Recorded after the answer was written: on Redis by the time the client can ask, give or take a round trip.
      await expect.poll(() => redis.exists(`tg:{resp:${id}}`)).toBe(1);
      expect(JSON.parse((await redis.get(`tg:{resp:${id}}`))!)).toMatchObject({ o: 'default', p: 'web', v: 'openai' });
      expect((await client(1, 'tg-web').responses.retrieve(id)).id).toBe(id);
      await expect(client(1, 'tg-mobile').responses.retrieve(id)).rejects.toMatchObject({
        status: 404,
        error: { message: `Response with id '${id}' not found.`, type: 'invalid_request_error', param: null, code: null },
      });
    }
    const before = upstream.requests().length;
    await expect(client(1, 'tg-mobile').responses.create({ model: 'gpt-4.1', previous_response_id: created.id, input: 'Go on.', max_output_tokens: 50 })).rejects.toMatchObject({
      status: 404,
      error: { code: 'previous_response_not_found', param: 'previous_response_id' },
    });
    expect(upstream.requests().length).toBe(before);
  });

  it('a follow-up through another instance reserves the context the first turn left, not the allowance for unseen context', async () => {
    const first = await client(0, 'tg-web').responses.create({ model: 'gpt-4.1', input: 'Tell me a story.', max_output_tokens: 50 });
    const carried = first.usage!.input_tokens + first.usage!.output_tokens;
    await expect.poll(async () => JSON.parse((await redis.get(`tg:{resp:${first.id}}`)) ?? '{}').c).toBe(carried);
    const plain = await client(1, 'tg-web').responses.create({ model: 'gpt-4.1', input: 'Go on.', max_output_tokens: 50 }).withResponse();
    const followUp = await client(1, 'tg-web').responses.create({ model: 'gpt-4.1', previous_response_id: first.id, input: 'Go on.', max_output_tokens: 50 }).withResponse();
    const reserved = (requestId: string | null): number => instances[1].calls.find((c) => c.requestId === requestId)!.reserved.input;
    // Instance 1 never saw the first turn: without the shared size it reserved the 50,000-token allowance.
    expect(reserved(followUp.request_id)).toBe(reserved(plain.request_id) + carried);
  });
});

describe('conversation owners in Redis', () => {
  it('a conversation made through one instance is the project’s on every instance, and its next turn reserves its recorded size', async () => {
    const conversation = await client(0, 'tg-web').conversations.create({ items: [{ type: 'message', role: 'user', content: 'Notes: '.repeat(200) }] });
    // Recorded before the client had the id: any instance knows it at once.
    const record = JSON.parse((await redis.get(`tg:{conv:${conversation.id}}`))!) as { o: string; p: string; v: string; c: number };
    expect(record).toMatchObject({ o: 'default', p: 'web', v: 'openai' });
    expect(record.c).toBeGreaterThan(200);
    expect(await redis.ttl(`tg:{conv:${conversation.id}}`)).toBeGreaterThan(364 * 86_400);
    expect((await client(1, 'tg-web').conversations.items.list(conversation.id)).data).toHaveLength(1);
    await expect(client(1, 'tg-mobile').conversations.items.list(conversation.id)).rejects.toMatchObject({ status: 404, error: { message: `Conversation with id '${conversation.id}' not found.` } });
    await expect(client(1, 'tg-mobile').responses.create({ model: 'gpt-4.1', conversation: conversation.id, input: 'Go on.', max_output_tokens: 50 })).rejects.toMatchObject({
      status: 404,
      error: { param: 'conversation' },
    });

    const plain = await client(1, 'tg-web').responses.create({ model: 'gpt-4.1', input: 'Go on.', max_output_tokens: 50 }).withResponse();
    const turn = await client(1, 'tg-web').responses.create({ model: 'gpt-4.1', conversation: conversation.id, input: 'Go on.', max_output_tokens: 50 }).withResponse();
    const reserved = (requestId: string | null): number => instances[1].calls.find((c) => c.requestId === requestId)!.reserved.input;
    // Not the 50,000-token allowance for unseen context: the size the record has (the body's own
    // `conversation` field adds its few tokens to the estimate).
    const beyondPlain = reserved(turn.request_id) - reserved(plain.request_id);
    expect(beyondPlain).toBeGreaterThanOrEqual(record.c);
    expect(beyondPlain).toBeLessThan(record.c + 20);
    // After the turn, the record says what the next one carries: this turn's input and output.
    const carried = turn.data.usage!.input_tokens + turn.data.usage!.output_tokens;
    await expect.poll(async () => JSON.parse((await redis.get(`tg:{conv:${conversation.id}}`)) ?? '{}').c).toBe(carried);
  });
});
