// Adopter QA of configuration names (review): a name YAML reads as a number, the order of routes whose
// names look like array indexes, and a key that lists one group twice.
import { afterEach, describe, expect, it } from 'vitest';
import { loadPolicyFromTexts } from '../src/config/index.js';
import { issuesOf, load } from './helpers/config-texts.js';
import { startTestGateway, type TestGateway } from './helpers/in-process.js';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

async function chat(url: string, model: string, key = 'tg-alice-secret'): Promise<{ status: number; model: unknown }> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }),
  });
  const body = (await res.json()) as { model?: unknown };
  return { status: res.status, model: body.model };
}

describe('a name YAML reads as a number', () => {
  it('keeps the name as written (`007`, `1.10`, `4.0`, `1e3`), not the number YAML reads', () => {
    const policy = load(`
projects:
  007: {daily_limit: 100}
  1.10: {daily_limit: 100}
  1e3: {daily_limit: 100}
routes:
  4.0:
    chat_models: [{model_id: m, model: openai/gpt-4o}]
keys:
  - {id: k, key: tg-secret-k, project: "007", routes: ["4.0"]}
`);
    expect([...policy.projects.keys()].sort()).toEqual(['007', '1.10', '1e3']);
    expect([...policy.routes.keys()]).toEqual(['4.0']);
    expect(policy.keys[0]).toMatchObject({ project: '007', routes: ['4.0'] });
  });
});

describe('routes keep the order they are written in', () => {
  const routes = `
providers: {demo: {type: mock}}
routes:
  main: {chat_models: [{model_id: chat, model: demo/current}]}
  2024: {chat_models: [{model_id: chat, model: demo/old-2024}]}
keys: [{id: alice, key: tg-alice-secret}]
`;

  it('when a route name is a number, so that a bare model_id reaches the first route that has it', async () => {
    expect([...load(routes).routes.keys()]).toEqual(['main', '2024']);
    gw = await startTestGateway(routes);
    expect(await chat(gw.url, 'chat')).toEqual({ status: 200, model: 'current' });
    expect(await chat(gw.url, '2024/chat')).toEqual({ status: 200, model: 'old-2024' });
  });

  it('across merged files: a later file adds its routes after the earlier ones, and refines one in place', () => {
    const base = 'routes:\n  main: {chat_models: [{model_id: chat, model: openai/gpt-4o}]}\n  7: {chat_models: [{model_id: chat, model: openai/gpt-4o}]}\n';
    const overlay = 'routes:\n  2024: {chat_models: [{model_id: chat, model: openai/gpt-4o}]}\n  main: {chat_models: [{model_id: other, model: openai/gpt-4o}]}\n  alpha: {chat_models: [{model_id: chat, model: openai/gpt-4o}]}\n';
    const policy = loadPolicyFromTexts([{ file: 'base.yaml', text: base }, { file: 'overlay.yaml', text: overlay }], {});
    expect([...policy.routes.keys()]).toEqual(['main', '7', '2024', 'alpha']);
    expect(policy.routes.get('main')!.models.map((m) => m.modelId)).toEqual(['other']);
  });
});

describe('a key that lists a group twice', () => {
  it('is refused at the repeated entry: each call would count twice against the group\'s limits', () => {
    const issues = issuesOf(`
groups: {ml: {daily_limit: 1000}}
keys:
  - id: alice
    key: tg-alice-secret
    groups:
      - ml
      - ml
`);
    expect(issues).toEqual([expect.objectContaining({ file: 'tollgate.yaml', line: 8, path: 'keys[0].groups[1]' })]);
    expect(issues[0]!.message).toMatch(/`ml` is listed twice/);
  });
});

describe('an embedding model on an Anthropic provider', () => {
  it('is refused at its line: Anthropic has no embeddings API, so every call to it would be a 400', () => {
    const issues = issuesOf(`
providers:
  claude: {type: anthropic, api_key: sk-ant-test}
routes:
  r:
    chat_models: [{model_id: c, model: claude/claude-sonnet-4-5}]
    embedding_models:
      - {model_id: e, model: claude/voyage-3}
`);
    expect(issues).toEqual([expect.objectContaining({ line: 8, path: 'routes.r.embedding_models[0].model' })]);
    expect(issues[0]!.message).toMatch(/no embeddings/);
  });

  it('also for the built-in `anthropic`, and not for OpenAI-format or mock providers', () => {
    expect(issuesOf('routes:\n  r:\n    embedding_models: [{model_id: e, model: anthropic/x}]\n')).toEqual([
      expect.objectContaining({ line: 3, path: 'routes.r.embedding_models[0].model' }),
    ]);
    const policy = load('providers: {o: {type: openai}, demo: {type: mock}}\nroutes:\n  r:\n    embedding_models: [{model_id: e, model: o/text-embedding-3-small}, {model_id: d, model: demo/e}]\n');
    expect(policy.routes.get('r')!.models).toHaveLength(2);
  });
});

describe('a name written where YAML reads a number', () => {
  it('says to quote it, without repeating it (a key secret may be all digits)', () => {
    const issues = issuesOf('projects:\n  "007": {daily_limit: 1}\nkeys:\n  - {id: k, key: 12345678, project: 007}\n');
    expect(issues.map((i) => i.path)).toEqual(['keys[0].key', 'keys[0].project']);
    for (const issue of issues) {
      expect(issue.message).toMatch(/expected a string, got a whole number.*quotes/);
      expect(issue.message).not.toMatch(/12345678|007/);
    }
  });
});
