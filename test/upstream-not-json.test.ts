// A provider that answers a successful status with a body that is not JSON: an HTML page from a web app
// or proxy at a wrong base_url, plain text. Regression test from an audit: the page was relayed as the
// answer (the SDK failed to parse it with an error that named nothing) and counted with the tokenizer as
// the call's output, so the caller's limits were charged for an HTML page.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startWireUpstream, type WireUpstream } from './helpers/wire-upstream.js';
import { startUsageGateway, type UsageTestGateway } from './helpers/usage-gateway.js';
import { sqlitePlace, type LedgerPlace } from './helpers/ledgers.js';

const PAGE = `<!doctype html><html><head><title>Sign in</title></head><body>${'<p>Welcome to the portal.</p>'.repeat(200)}</body></html>`;
/** A chat completion as OpenAI answers it, behind a byte order mark and white space (still JSON). */
const PADDED_JSON = `\ufeff\n  ${JSON.stringify({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1760000000,
  model: 'gpt-4o',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Done.', refusal: null }, logprobs: null, finish_reason: 'stop' }],
  usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 },
})}`;

let upstream: WireUpstream;
let place: LedgerPlace;
let gw: UsageTestGateway;
let client: OpenAI;

beforeAll(async () => {
  upstream = await startWireUpstream((req, res, raw) => {
    const body = JSON.parse(raw) as { messages: Array<{ content: string }> };
    const asked = body.messages[0].content;
    if (asked === 'page') return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    if (asked === 'text') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('OK');
    res.writeHead(200, { 'content-type': 'application/json' }).end(PADDED_JSON);
  });
  place = sqlitePlace();
  gw = await startUsageGateway(`
storage: {ledger: "${place.url}"}
providers:
  up: {type: openai, base_url: "${upstream.url}", api_key: sk-upstream-key-for-tests}
  claude: {type: anthropic, base_url: "${upstream.url.replace(/\/v1$/, '')}", api_key: sk-ant-upstream-key-for-tests}
projects: {p: {daily_limit: 100000}}
routes: {r: {chat_models: [{model_id: gpt-4o, model: up/gpt-4o}, {model_id: claude-sonnet-4, model: claude/claude-sonnet-4}]}}
keys: [{id: a, key: tg-a, project: p}]
`);
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'tg-a', maxRetries: 0 });
});
afterAll(async () => {
  await gw?.close();
  await place?.drop();
  await upstream?.close();
});

/** The project's daily counter, as the limits see it. */
async function projectUsed(): Promise<number> {
  const principal = gw.gateway.keys.resolve('tg-a')!;
  const limits = gw.gateway.engine.applicable.for(principal, gw.gateway.routes.resolve(principal, 'gpt-4o', 'chat')!);
  return (await gw.store.peek(limits.filter((l) => l.id === 'project:p:daily').map((l) => l.item)))[0].used;
}

const ask = (content: string, stream = false) => client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content }], max_tokens: 50, ...(stream ? { stream } : {}) } as OpenAI.ChatCompletionCreateParamsNonStreaming);

it('answers a 502 naming the provider and what it sent, and charges nothing', async () => {
  for (const [content, type] of [['page', 'text/html'], ['text', 'text/plain']] as const) {
    const err = (await ask(content).then(
      () => undefined,
      (e: unknown) => e,
    )) as InstanceType<typeof OpenAI.APIError>;
    expect(err, content).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err.status).toBe(502);
    expect(err.message).toContain("provider 'up'");
    expect(err.message).toContain(`not JSON, content-type ${type}`);
    expect(err.message).toContain('Nothing was charged');
    // In the OpenAI error format, with the gateway's request id.
    expect((err.error as { type?: string }).type).toBe('upstream_error');
    expect(err.requestID).toMatch(/\S/);
  }
  // A client that asked for a stream gets the same: the answer was neither a stream nor JSON.
  const streamed = await ask('page', true).then(
    () => undefined,
    (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
  );
  expect(streamed?.status).toBe(502);

  // Every token reserved for those calls was given back: the project's counter holds nothing.
  expect(await projectUsed()).toBe(0);

  await gw.usage.writer.flush();
  const rows = await gw.usage.ledger.rows({});
  const failed = rows.filter((r) => r.status === 502);
  expect(rows).toHaveLength(3);
  expect(failed).toHaveLength(3);
  for (const row of failed) {
    expect(row.decision).toBe('failed');
    expect(row.inputTokens + row.outputTokens).toBe(0);
    expect(row.costUsd).toBe(0);
  }
});

it('still takes JSON behind a byte order mark or white space as the answer', async () => {
  const answer = await ask('json');
  expect(answer.usage?.completion_tokens).toBe(2);
  expect(await projectUsed()).toBe(11);
});

it("does the same on the Anthropic endpoints, in Anthropic's error format", async () => {
  const anthropic = new Anthropic({ baseURL: gw.url, apiKey: 'tg-a', maxRetries: 0 });
  const messages = [{ role: 'user' as const, content: 'page' }];
  const calls = [anthropic.messages.create({ model: 'claude-sonnet-4', max_tokens: 50, messages }), anthropic.messages.countTokens({ model: 'claude-sonnet-4', messages })];
  for (const call of calls) {
    const err = (await call.then(
      () => undefined,
      (e: unknown) => e,
    )) as InstanceType<typeof Anthropic.APIError>;
    expect(err).toBeInstanceOf(Anthropic.InternalServerError);
    expect(err.status).toBe(502);
    expect(err.message).toContain('not JSON, content-type text/html');
    expect((err.error as { type?: string }).type).toBe('error');
  }
});
