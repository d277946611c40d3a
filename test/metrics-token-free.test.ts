// Requests that use no tokens and write no ledger row (Responses API retrievals, the Conversations API,
// Anthropic token counts) on /metrics: each one answered is a tollgate_requests_total series with no
// model; each refused, a rejection.
import { describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { families, scrapeText, sum } from './helpers/prometheus-scrape.js';
import { withUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';

/** Runs `body` against a gateway of its own (mock provider, its own SQLite ledger), closed afterwards. */
function withGateway(yaml: string, body: (gw: UsageTestGateway) => Promise<void>): Promise<void> {
  const prelude = (ledgerUrl: string): string => `storage: {ledger: "${ledgerUrl}"}\nproviders: {demo: {type: mock, output_tokens: 5}}\nprojects: {web: {daily_limit: 100000}}\n`;
  return withUsageGateway((ledgerUrl) => prelude(ledgerUrl) + yaml, body);
}

const answered = { organization: 'default', project: 'web', model: '', decision: 'admitted' };

describe('token-free requests on /metrics', () => {
  it('counts the Responses retrievals the provider answered in tollgate_requests_total, with no model; refused ones as rejections', async () => {
    const yaml = `
users: {polling: {rate_limit: 8}}
routes: {main: {chat_models: [{model_id: gpt-4.1, model: demo/gpt-4.1}]}}
keys: [{id: p, key: tg-p, user: pat, tier: polling, project: web}]
`;
    await withGateway(yaml, async (gw) => {
      const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'tg-p', maxRetries: 0 });
      const made = await client.responses.create({ model: 'gpt-4.1', input: 'Hi.', max_output_tokens: 20 });
      const background = await client.responses.create({ model: 'gpt-4.1', input: 'Hi.', max_output_tokens: 20, background: true });
      await client.responses.retrieve(made.id);
      await client.responses.inputItems.list(made.id);
      await client.responses.cancel(background.id);
      await client.responses.delete(made.id);
      // The provider no longer has it: its 404 is the provider's answer, counted with its status.
      await expect(client.responses.retrieve(made.id)).rejects.toMatchObject({ status: 404 });
      // Refused by the gateway: an id the project does not own, then the rate limit (8 requests in the minute, the creations included).
      await expect(client.responses.retrieve('resp_unknown')).rejects.toMatchObject({ status: 404 });
      await expect(client.responses.retrieve(background.id)).rejects.toMatchObject({ status: 429 });
      await gw.usage.writer.flush();

      const m = families(await scrapeText(gw.url));
      const requests = m.get('tollgate_requests_total');
      expect(sum(requests, { ...answered, status: '200' })).toBe(4);
      expect(sum(requests, { ...answered, status: '404' })).toBe(1);
      expect(sum(requests, { model: '' })).toBe(5);
      // The calls' series still equal the ledger's rows: the retrievals are apart from them.
      expect(sum(requests) - 5).toBe((await gw.usage.ledger.summarize({ groupBy: [] }))[0].calls);
      const rejected = m.get('tollgate_rejected_requests_total');
      expect(sum(rejected, { path: '/v1/responses/:id', status: '404', code: 'response_not_found' })).toBe(1);
      expect(sum(rejected, { path: '/v1/responses/:id', status: '429' })).toBe(1);
    });
  });

  it('counts the Conversations API requests the provider answered the same way, and refusals as rejections', async () => {
    const yaml = `
routes: {main: {chat_models: [{model_id: gpt-4.1, model: demo/gpt-4.1}]}}
keys: [{id: p, key: tg-p, project: web}, {id: o, key: tg-o}]
`;
    await withGateway(yaml, async (gw) => {
      const client = (key: string) => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 });
      const conversation = await client('tg-p').conversations.create({ items: [{ type: 'message', role: 'user', content: 'Hi.' }] });
      await client('tg-p').conversations.items.list(conversation.id);
      await client('tg-p').conversations.update(conversation.id, { metadata: { a: 'b' } });
      await client('tg-p').conversations.delete(conversation.id);
      await expect(client('tg-p').conversations.retrieve(conversation.id)).rejects.toMatchObject({ status: 404 });
      // A key of no project: not the owner, so refused by the gateway, and nothing sent.
      await expect(client('tg-o').conversations.retrieve(conversation.id)).rejects.toMatchObject({ status: 404 });

      const m = families(await scrapeText(gw.url));
      const requests = m.get('tollgate_requests_total');
      expect(sum(requests, { ...answered, status: '200' })).toBe(4);
      expect(sum(requests, { ...answered, status: '404' })).toBe(1);
      expect(sum(requests, { model: '' })).toBe(5);
      expect(sum(m.get('tollgate_rejected_requests_total'), { path: '/v1/conversations/:id', status: '404', code: 'conversation_not_found' })).toBe(1);
    });
  });

  it("counts the Anthropic token counts answered in tollgate_requests_total, with no model; refused ones as rejections", async () => {
    const yaml = `
users: {counting: {rate_limit: 3}}
routes: {main: {chat_models: [{model_id: claude-sonnet-4, model: demo/claude-sonnet-4}]}}
keys: [{id: c, key: tg-c, user: cat, tier: counting, project: web}]
`;
    await withGateway(yaml, async (gw) => {
      const client = new Anthropic({ baseURL: gw.url, apiKey: 'tg-c', maxRetries: 0 });
      const count = () => client.messages.countTokens({ model: 'claude-sonnet-4', messages: [{ role: 'user', content: 'How many tokens is this?' }] });
      for (let i = 0; i < 3; i++) expect((await count()).input_tokens).toBeGreaterThan(0);
      // The fourth in the minute is over the tier's rate_limit: refused by the gateway, a rejection.
      await expect(count()).rejects.toMatchObject({ status: 429 });
      const m = families(await scrapeText(gw.url));
      const requests = m.get('tollgate_requests_total');
      expect(sum(requests, { ...answered, status: '200' })).toBe(3);
      expect(sum(requests)).toBe(3);
      expect(sum(m.get('tollgate_rejected_requests_total'), { path: '/v1/messages/count_tokens', status: '429' })).toBe(1);
    });
  });
});
