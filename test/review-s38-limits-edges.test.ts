// README "How limits are enforced", the edges a real app hits, seen through the official `openai` client
// (session 38 QA pass): an input-only call under a spent output limit, a key in two groups on a
// `scope: group` route, shadow limits that must not clamp, a request_limit too small for one token per
// choice, and afterwards the admin audit's counters equal to the usage the client was told.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { createMockUpstream, type MockUpstream } from '../src/mock-upstream/index.js';
import type { AuditReport } from '../src/ledger/audit.js';
import { useUsageGateway } from './helpers/usage-gateway.js';

let upstream: MockUpstream;
let upstreamUrl = '';
beforeAll(async () => {
  upstream = createMockUpstream({ latencyMs: 0, outputTokens: 1000 });
  upstreamUrl = await upstream.listen(0, '127.0.0.1');
});
afterAll(() => upstream?.close());

const gw = useUsageGateway((ledger) => `
server: {timezone: UTC, admin_key: adm-s38}
storage: {ledger: "${ledger}"}
providers: {up: {type: openai, base_url: "${upstreamUrl}/v1"}}
projects:
  p: {daily_limit: 1000000}
  tight: {daily_limit: 1000000, request_limit: 100}
  sh: {daily_limit: {max_token: 30, mode: shadow}}
groups:
  g3: {daily_limit: {max_token: 40, mode: shadow}}
routes:
  out:
    chat_models: [{model_id: gpt-4o-out, model: up/gpt-4o}]
    embedding_models: [{model_id: emb, model: up/text-embedding-3-small}]
    token_limiting: {output: {algorithm: fixed_window, window_size: 1 hour, max_token: 50}}
  grp:
    chat_models: [{model_id: gpt-4o-grp, model: up/gpt-4o}]
    token_limiting: {scope: group, output: {algorithm: fixed_window, window_size: 1 hour, max_token: 100}}
  plain:
    chat_models: [{model_id: gpt-4o, model: up/gpt-4o}]
keys:
  - {id: a, key: tg-a, project: p, groups: [g1, g2]}
  - {id: b, key: tg-b, project: p, groups: [g2]}
  - {id: t, key: tg-t, project: tight}
  - {id: s, key: tg-s, project: sh, groups: [g3]}
`);

const client = (key: string): OpenAI => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: key, maxRetries: 0 });
const hi = [{ role: 'user' as const, content: 'Hello there' }];
/** Every token the client was told it used, by key. */
const told: Record<string, number> = {};
const tell = (key: string, usage: { total_tokens: number } | undefined): void => {
  told[key] = (told[key] ?? 0) + usage!.total_tokens;
};
const status = (p: Promise<unknown>): Promise<number> => p.then(() => 200, (e: unknown) => (e as { status: number }).status);

describe('limits at the edges a real app hits', () => {
  it('an embeddings call (no output) passes a route whose output limit is spent; a chat call there is a 429', async () => {
    const c = client('tg-b');
    const first = await c.chat.completions.create({ model: 'gpt-4o-out', messages: hi, max_tokens: 50 });
    tell('tg-b', first.usage);
    expect(first.usage!.completion_tokens).toBe(50);
    const err = (await c.chat.completions.create({ model: 'gpt-4o-out', messages: hi, max_tokens: 5 }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.RateLimitError>;
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.headers.get('x-tollgate-limit')).toBe('route:out:output');
    const emb = await c.embeddings.create({ model: 'emb', input: ['one two', 'three', 'four five six'] });
    tell('tg-b', emb.usage);
    expect(emb.data).toHaveLength(3);
  });

  it('a key in two groups counts in both groups of a scope: group route, and the fuller group clamps it', async () => {
    // b (group g2 only) spends 60 of g2's 100; a (g1 and g2) then has 40 left, though g1 is untouched.
    const b = await client('tg-b').chat.completions.create({ model: 'gpt-4o-grp', messages: hi, max_tokens: 60 });
    tell('tg-b', b.usage);
    const a = await client('tg-a').chat.completions.create({ model: 'gpt-4o-grp', messages: hi, max_tokens: 80 }).withResponse();
    tell('tg-a', a.data.usage);
    expect(a.response.headers.get('x-tollgate-clamped-max-tokens')).toBe('40');
    expect(a.data.usage!.completion_tokens).toBe(40);
    const audit = await readAudit();
    const counter = (limit: string): number | undefined => audit.lines.find((l) => l.limit === limit)?.counter;
    expect(counter('route:grp:group:g1:output')).toBe(40);
    expect(counter('route:grp:group:g2:output')).toBe(100);
  });

  it('shadow limits are counted and named but never lower max_tokens', async () => {
    upstream.clearRequests();
    const c = client('tg-s');
    // The first call fits both limits once clamped, as enforced limits would clamp it: not named. The second
    // finds them spent, which enforced limits would refuse: named, and still served whole.
    const named: Array<string | null> = [];
    for (let i = 0; i < 2; i++) {
      const res = await c.chat.completions.create({ model: 'gpt-4o', messages: hi, max_tokens: 200 }).withResponse();
      tell('tg-s', res.data.usage);
      expect(res.response.headers.get('x-tollgate-clamped-max-tokens')).toBeNull();
      named.push(res.response.headers.get('x-tollgate-shadow-limit'));
      expect(res.data.usage!.completion_tokens).toBe(200);
    }
    expect(named).toEqual([null, 'project:sh:daily,group:g3:daily']);
    expect(upstream.requests().map((r) => (r.body as { max_tokens: number }).max_tokens)).toEqual([200, 200]);
  });

  it('request_limit: n choices need one token each, else a 400 that names the limit, and nothing goes upstream', async () => {
    upstream.clearRequests();
    const c = client('tg-t');
    const long = 'word '.repeat(60); // ~60 input tokens: 40 left of the 100-token request limit
    const err = (await c.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: long }], n: 64 }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.message).toContain("project 'tight' request limit of 100 tokens");
    expect(upstream.requests()).toHaveLength(0);
    // With room for one token per choice it is clamped, the grant split between the choices.
    const ok = await c.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: long }], n: 4 }).withResponse();
    tell('tg-t', ok.data.usage);
    const perChoice = Math.floor((100 - ok.data.usage!.prompt_tokens) / 4);
    expect(ok.response.headers.get('x-tollgate-clamped-max-tokens')).toBe(String(perChoice));
    expect(ok.data.usage!.completion_tokens).toBe(4 * perChoice);
    expect(await status(c.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: long }], n: 41 }))).toBe(400);
  });

  it('legacy completions with a prompt array and best_of, and embeddings with token arrays, settle at what they reported', async () => {
    const c = client('tg-a');
    const legacy = await c.completions.create({ model: 'gpt-4o', prompt: ['one', 'two', 'three'], best_of: 2, max_tokens: 7 });
    tell('tg-a', legacy.usage);
    expect(legacy.choices).toHaveLength(3);
    const emb = await c.embeddings.create({ model: 'emb', input: [[1, 2, 3], [4, 5, 6, 7]] });
    tell('tg-a', emb.usage);
    expect(emb.usage.prompt_tokens).toBe(7);
  });

  it('afterwards every counter of the admin audit equals the ledger, and each project the usage its clients were told', async () => {
    const audit = await readAudit();
    expect(audit.drifting).toBe(0);
    expect(audit.openReservations).toBe(0);
    const counter = (limit: string): number | undefined => audit.lines.find((l) => l.limit === limit)?.counter;
    expect(counter('project:p:daily')).toBe(told['tg-a'] + told['tg-b']);
    expect(counter('project:tight:daily')).toBe(told['tg-t']);
    // Shadow limits count past their max.
    expect(counter('project:sh:daily')).toBe(told['tg-s']);
    expect(counter('project:sh:daily')).toBeGreaterThan(30);
    expect(counter('group:g3:daily')).toBe(told['tg-s']);
  });
});

async function readAudit(): Promise<AuditReport> {
  const res = await fetch(`${gw().url}/api/audit`, { headers: { authorization: 'Bearer adm-s38' } });
  expect(res.status).toBe(200);
  return (await res.json()) as AuditReport;
}
