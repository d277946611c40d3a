// `GET /v1/models` in Anthropic's format, as the SDK 1.x reads it. Its ModelInfo has `id, type,
// display_name, created_at, capabilities, max_input_tokens, max_tokens, lifecycle, deprecated_at,
// retires_at, line` (the nullable ones null where unknown), and the list takes `lifecycle` (active,
// deprecated, retired; active and deprecated when omitted). The gateway answered only the first four and
// ignored `lifecycle`: a client that keeps the models whose `lifecycle` is 'active' kept none, one that reads
// `max_tokens === null` as "unknown" read undefined, and `models.list({lifecycle: ['retired']})` listed
// every model as retired. The gateway's models are all active, and it knows no model's limits or capabilities.
import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { useBehindMock } from './helpers/use-test-gateway.js';

const { gw } = useBehindMock({ latencyMs: 0, outputTokens: 5, apiKey: 'sk-ant-m' }, (url) => `
providers: {claude: {type: anthropic, base_url: "${url}", api_key: sk-ant-m}}
projects: {p: {daily_limit: 1000000}}
routes:
  r:
    chat_models:
      - {model_id: sonnet, model: claude/claude-sonnet-4-5}
      - {model_id: haiku, model: claude/claude-haiku-4-5}
keys: [{id: k, key: tg-k, project: p}]
`);

const client = (): Anthropic => new Anthropic({ baseURL: gw().url, apiKey: 'tg-k', maxRetries: 0 });
const ALL = ['sonnet', 'r/sonnet', 'haiku', 'r/haiku', 'r'];

async function idsOf(params: Anthropic.ModelListParams = {}): Promise<string[]> {
  const ids: string[] = [];
  for await (const m of client().models.list(params)) ids.push(m.id);
  return ids;
}

describe("Anthropic's ModelInfo", () => {
  it('has every field the SDK declares, unknown ones null, every model active', async () => {
    const models: Anthropic.ModelInfo[] = [];
    for await (const m of client().models.list({ limit: 2 })) models.push(m);
    expect(models.map((m) => m.id)).toEqual(ALL);
    for (const m of models) {
      expect(m).toEqual({
        type: 'model',
        id: m.id,
        display_name: m.id,
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        capabilities: null,
        max_input_tokens: null,
        max_tokens: null,
        lifecycle: 'active',
        deprecated_at: null,
        retires_at: null,
        line: null,
      });
    }
    expect(models.filter((m) => m.lifecycle === 'active')).toHaveLength(ALL.length);
    expect(await client().models.retrieve('r/haiku')).toEqual(models[3]);
  });
});

describe('the lifecycle filter', () => {
  it('lists the active models unless asked only for deprecated or retired ones', async () => {
    expect(await idsOf({ lifecycle: ['active'] })).toEqual(ALL);
    expect(await idsOf({ lifecycle: ['retired', 'deprecated', 'active'] })).toEqual(ALL);
    const retired = await client().models.list({ lifecycle: ['retired'] });
    expect([retired.data, retired.has_more, retired.first_id, retired.last_id]).toEqual([[], false, null, null]);
    expect(await idsOf({ lifecycle: ['deprecated'] })).toEqual([]);
  });

  it('reads the parameter repeated (curl) as well as with brackets (the SDK), and pages within the filtered list', async () => {
    const raw = async (query: string) => {
      const res = await fetch(`${gw().url}/v1/models?${query}`, { headers: { 'x-api-key': 'tg-k', 'anthropic-version': '2023-06-01' } });
      return { status: res.status, body: (await res.json()) as { data?: Array<{ id: string }>; has_more?: boolean; error?: { type: string; message: string } } };
    };
    expect((await raw('lifecycle=retired&lifecycle=deprecated')).body.data).toEqual([]);
    expect((await raw('lifecycle=retired')).body.data).toEqual([]);
    const page = await raw('lifecycle=active&limit=2&after_id=sonnet');
    expect([page.body.data!.map((m) => m.id), page.body.has_more]).toEqual([['r/sonnet', 'haiku'], true]);
    // Anthropic refuses a stage it does not know: so does the gateway, in Anthropic's format.
    const bad = await raw('lifecycle=legacy');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ type: 'invalid_request_error', message: expect.stringContaining('lifecycle') });
  });
});
