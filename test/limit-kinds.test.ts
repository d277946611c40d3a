// Every kind of limit from SPEC §1, through HTTP, with the in-process mock provider and an injected clock.
import { afterEach, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/in-process.js';
import { estimateInput } from '../src/tokens/index.js';

const messages = [{ role: 'user', content: 'hi' }];
const INPUT = estimateInput('chat', { model: 'm', messages }, 'gpt-4o').exact();
const NOON = Date.UTC(2026, 10, 21, 12);

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

const base = (extra: string, routeLimits = ''): string => `
providers: {demo: {type: mock, output_tokens: 10}}
pricing: {"demo/gpt-4o": {input: 2.5, output: 10}}
routes:
  r:
    chat_models: [{model_id: m, model: demo/gpt-4o}]
${routeLimits}
${extra}`;

/** Key `tg-a` alone, clamping off, and one route limit (`output: {...}` or `input: {...}`). */
const clampOffRouteLimit = (limit: string): string =>
  base('keys: [{id: a, key: tg-a}]\nenforcement: {clamp_max_tokens: false}', `    token_limiting:\n      ${limit}`);

async function call(key: string, output: number, maxTokens = output): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(`${gw!.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'm', messages, max_tokens: maxTokens, mock_output_tokens: output }),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

describe('organization limits', () => {
  it('daily_cap resets at midnight, monthly_budget holds across days', async () => {
    const perCall = INPUT + 10;
    gw = await startTestGateway(
      base(`
organization: {monthly_budget: ${perCall * 3}, daily_cap: ${perCall * 2}}
keys: [{id: a, key: tg-a}]
enforcement: {clamp_max_tokens: false}`),
      NOON,
    );
    expect((await call('tg-a', 10)).status).toBe(200);
    expect((await call('tg-a', 10)).status).toBe(200);
    const daily = await call('tg-a', 10);
    expect(daily.status).toBe(429);
    expect(daily.headers.get('x-tollgate-limit')).toBe('org:default:daily');
    gw.clock.set(Date.UTC(2026, 10, 22, 0, 0, 1));
    expect((await call('tg-a', 10)).status).toBe(200);
    const monthly = await call('tg-a', 10);
    expect(monthly.status).toBe(429);
    expect(monthly.headers.get('x-tollgate-limit')).toBe('org:default:monthly');
    expect(monthly.body.error.message).toContain('2026-12-01T00:00:00.000Z');
    gw.clock.set(Date.UTC(2026, 11, 1, 0, 0, 1));
    expect((await call('tg-a', 10)).status).toBe(200);
  });

  it('with several organizations each key counts against its own', async () => {
    gw = await startTestGateway(
      base(`
organizations:
  acme: {daily_cap: ${INPUT + 10}}
  globex: {daily_cap: ${INPUT + 10}}
keys:
  - {id: a, key: tg-a, organization: acme}
  - {id: g, key: tg-g, organization: globex}
enforcement: {clamp_max_tokens: false}`),
    );
    expect((await call('tg-a', 10)).status).toBe(200);
    expect((await call('tg-a', 10)).headers.get('x-tollgate-limit')).toBe('org:acme:daily');
    expect((await call('tg-g', 10)).status).toBe(200);
  });
});

describe('user tier and group limits', () => {
  it('a tier daily_limit applies to each user separately, shared by that user’s keys', async () => {
    gw = await startTestGateway(
      base(`
users: {tier_standard: {daily_limit: ${INPUT + 10}}}
keys:
  - {id: alice-laptop, key: tg-a1, user: alice, tier: tier_standard}
  - {id: alice-ci, key: tg-a2, user: alice, tier: tier_standard}
  - {id: bob, key: tg-b, user: bob, tier: tier_standard}
enforcement: {clamp_max_tokens: false}`),
    );
    expect((await call('tg-a1', 10)).status).toBe(200);
    const second = await call('tg-a2', 10);
    expect(second.status).toBe(429);
    expect(second.headers.get('x-tollgate-limit')).toBe('user:alice:daily');
    expect(second.body.error.message).toContain("User 'alice' (tier tier_standard) daily limit");
    expect((await call('tg-b', 10)).status).toBe(200);
  });

  it('a group daily_limit is shared by all members of the group', async () => {
    gw = await startTestGateway(
      base(`
groups: {ml-team: {daily_limit: ${2 * (INPUT + 10)}}}
keys:
  - {id: a, key: tg-a, groups: [ml-team]}
  - {id: b, key: tg-b, groups: [ml-team]}
  - {id: c, key: tg-c}
enforcement: {clamp_max_tokens: false}`),
    );
    expect((await call('tg-a', 10)).status).toBe(200);
    expect((await call('tg-b', 10)).status).toBe(200);
    expect((await call('tg-a', 10)).headers.get('x-tollgate-limit')).toBe('group:ml-team:daily');
    expect((await call('tg-c', 10)).status).toBe(200);
  });
});

describe('route token_limiting scopes', () => {
  const keys = `
keys:
  - {id: a, key: tg-a, groups: [g1]}
  - {id: b, key: tg-b, groups: [g1]}
  - {id: c, key: tg-c, groups: [g2]}
enforcement: {clamp_max_tokens: false}`;
  const limits = (scope: string): string => `
    token_limiting:
      scope: ${scope}
      output: {algorithm: fixed_window, window_size: 1 hour, max_token: 10}`;

  it('scope route: everyone on the route shares one pool', async () => {
    gw = await startTestGateway(base(keys, limits('route')));
    expect((await call('tg-a', 10)).status).toBe(200);
    const b = await call('tg-c', 10);
    expect(b.status).toBe(429);
    expect(b.headers.get('x-tollgate-limit')).toBe('route:r:output');
  });

  it('scope user: each API key has its own', async () => {
    gw = await startTestGateway(base(keys, limits('user')));
    expect((await call('tg-a', 10)).status).toBe(200);
    expect((await call('tg-b', 10)).status).toBe(200);
    expect((await call('tg-a', 10)).headers.get('x-tollgate-limit')).toBe('route:r:key:a:output');
  });

  it('scope group: keys of one group share, other groups do not', async () => {
    gw = await startTestGateway(base(keys, limits('group')));
    expect((await call('tg-a', 10)).status).toBe(200);
    expect((await call('tg-b', 10)).headers.get('x-tollgate-limit')).toBe('route:r:group:g1:output');
    expect((await call('tg-c', 10)).status).toBe(200);
  });

  it('input and output are limited separately; output is clamped, input is not', async () => {
    gw = await startTestGateway(
      base(
        'keys: [{id: a, key: tg-a}]',
        `
    token_limiting:
      input: {algorithm: fixed_window, window_size: 10 minutes, max_token: ${INPUT * 2}}
      output: {algorithm: fixed_window, window_size: 10 minutes, max_token: 15}`,
      ),
    );
    const first = await call('tg-a', 100, 10);
    expect(first.status).toBe(200);
    const clamped = await call('tg-a', 100, 10);
    expect(clamped.headers.get('x-tollgate-clamped-max-tokens')).toBe('5');
    expect(clamped.body.usage.completion_tokens).toBe(5);
    const input = await call('tg-a', 1, 1);
    expect(input.status).toBe(429);
    expect(input.headers.get('x-tollgate-limit')).toBe('route:r:input');
    gw.clock.advance(10 * 60_000);
    expect((await call('tg-a', 1, 1)).status).toBe(200);
  });

  it('a token bucket refills continuously', async () => {
    gw = await startTestGateway(clampOffRouteLimit(`output: {algorithm: token_bucket, window_size: 1 minute, max_token: 60}`));
    expect((await call('tg-a', 60)).status).toBe(200);
    expect((await call('tg-a', 10)).status).toBe(429);
    gw.clock.advance(9_000); // 9 tokens back
    expect((await call('tg-a', 10)).status).toBe(429);
    gw.clock.advance(1_000);
    expect((await call('tg-a', 10)).status).toBe(200);
  });

  it('a nearly full hourly bucket says when this request fits, not when the bucket is empty', async () => {
    gw = await startTestGateway(clampOffRouteLimit(`output: {algorithm: token_bucket, window_size: 1 hour, max_token: 3600}`));
    expect((await call('tg-a', 3600)).status).toBe(200);
    gw.clock.advance(2_500); // 2.5 tokens drained: 3597.5 used
    const res = await call('tg-a', 25);
    expect(res.status).toBe(429);
    // Room for 25 more: (3597.5 + 25 - 3600) tokens at one per second, 22.5 s; not the 3597.5 s to empty.
    expect(res.headers.get('retry-after')).toBe('23');
    expect(res.headers.get('x-should-retry')).toBeNull();
    expect(res.body.error.message).toContain('3598 of 3600 tokens used, 2 left, and this request needs 25. It resets in 23s');
    expect(res.headers.get('x-ratelimit-remaining-tokens')).toBe('2');
    gw.clock.advance(22_499);
    expect((await call('tg-a', 25)).status).toBe(429);
    gw.clock.advance(1);
    expect((await call('tg-a', 25)).status).toBe(200);
  });

  it('a bucket that cannot make room within a minute still says so (x-should-retry: false)', async () => {
    gw = await startTestGateway(clampOffRouteLimit(`output: {algorithm: token_bucket, window_size: 1 hour, max_token: 3600}`));
    expect((await call('tg-a', 3600)).status).toBe(200);
    const res = await call('tg-a', 100);
    expect(res.headers.get('retry-after')).toBe('100');
    expect(res.headers.get('x-should-retry')).toBe('false');
    expect(res.body.error.message).toContain('It resets in 1m 40s');
  });

  it('a sliding window says when enough slots have left for this request, not just the oldest', async () => {
    gw = await startTestGateway(clampOffRouteLimit(`output: {algorithm: sliding_window, window_size: 1 hour, max_token: 100}`));
    // Slots of 3 minutes, each counted for 21 slots (63 minutes); NOON is on a slot edge.
    expect((await call('tg-a', 30)).status).toBe(200);
    gw.clock.advance(12 * 60_000);
    expect((await call('tg-a', 30)).status).toBe(200);
    gw.clock.advance(12 * 60_000);
    expect((await call('tg-a', 40)).status).toBe(200);
    gw.clock.advance(6 * 60_000);
    const res = await call('tg-a', 50);
    expect(res.status).toBe(429);
    // At 30 min: the first 30 leave at 63 min (70 + 50 > 100 still), the next 30 at 75 min, 45 min from now.
    expect(res.headers.get('retry-after')).toBe(String(45 * 60));
    expect(res.headers.get('x-should-retry')).toBe('false');
    expect(res.body.error.message).toContain('It resets in 45m 0s (at 2026-11-21T13:15:00.000Z)');
    gw.clock.advance(45 * 60_000 - 1);
    expect((await call('tg-a', 50)).status).toBe(429);
    gw.clock.advance(1);
    expect((await call('tg-a', 50)).status).toBe(200);
  });

  it('suggests a lower max_tokens only while the limit has room left', async () => {
    gw = await startTestGateway(clampOffRouteLimit(`output: {algorithm: fixed_window, window_size: 1 hour, max_token: 100}`));
    expect((await call('tg-a', 60)).status).toBe(200);
    const roomLeft = await call('tg-a', 60);
    expect(roomLeft.status).toBe(429);
    expect(roomLeft.body.error.message).toContain('40 left');
    expect(roomLeft.body.error.message).toContain('Lowering max_tokens may let it through sooner.');
    expect((await call('tg-a', 40)).status).toBe(200);
    const noneLeft = await call('tg-a', 10);
    expect(noneLeft.status).toBe(429);
    expect(noneLeft.body.error.message).toContain('0 left');
    expect(noneLeft.body.error.message).not.toContain('Lowering max_tokens');
  });

  it('max_tokens larger than a whole window with clamping off can never pass: 400 naming the limit', async () => {
    gw = await startTestGateway(clampOffRouteLimit(`output: {algorithm: fixed_window, window_size: 1 hour, max_token: 10}`));
    const res = await call('tg-a', 5, 11);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('output_over_window');
    expect(res.body.error.param).toBe('max_tokens');
    expect(res.body.error.message).toContain('needs 11 tokens, more than the');
    expect(res.body.error.message).toContain('allows in a whole window (10 tokens)');
    expect(gw.calls.at(-1)).toMatchObject({ decision: 'blocked', blockedBy: 'route:r:output' });
    expect((await call('tg-a', 5, 10)).status).toBe(200);
  });

  it('an input larger than a whole window can never pass: 400, not 429', async () => {
    gw = await startTestGateway(
      base(
        'keys: [{id: a, key: tg-a}]',
        `
    token_limiting:
      input: {algorithm: fixed_window, window_size: 1 hour, max_token: ${INPUT - 1}}`,
      ),
    );
    const res = await call('tg-a', 1);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('request_over_window');
  });

  it('a limit set to 0 shuts its scope off, and says so instead of asking for a shorter input', async () => {
    gw = await startTestGateway(base('projects: {closed: {daily_limit: 0}}\nkeys: [{id: a, key: tg-a, project: closed}]'));
    const res = await call('tg-a', 1);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('request_over_window');
    expect(res.body.error.message).toBe("The project 'closed' daily limit is 0: no request can pass it. It is set so in the gateway's configuration; ask its administrator.");
  });
});

describe('money limits and shadow mode', () => {
  it('max_cost_usd is priced from the pricing table', async () => {
    // One call: INPUT × $2.50/M + 1000 × $10/M ≈ $0.01; the budget fits two.
    gw = await startTestGateway(
      base(`
groups: {g: {daily_limit: {max_cost_usd: ${((2 * (INPUT * 2.5 + 1000 * 10)) / 1e6).toFixed(8)}}}}
keys: [{id: a, key: tg-a, groups: [g]}]
enforcement: {clamp_max_tokens: false}`),
    );
    expect((await call('tg-a', 1000)).status).toBe(200);
    expect((await call('tg-a', 1000)).status).toBe(200);
    const third = await call('tg-a', 1000);
    expect(third.status).toBe(429);
    expect(third.body.error.message).toMatch(/\$0\.0\d+ of \$0\.0\d+ used, \$0\.0\d+ left/);
  });

  it('a shadow limit is counted and reported but never blocks', async () => {
    gw = await startTestGateway(
      base(`
projects: {p: {daily_limit: {max_token: 5, mode: shadow}}}
keys: [{id: a, key: tg-a, project: p}]`),
    );
    expect((await call('tg-a', 10)).status).toBe(200);
    const second = await call('tg-a', 10);
    expect(second.status).toBe(200);
    expect(second.headers.get('x-tollgate-shadow-limit')).toBe('project:p:daily');
    expect(gw.calls[1].shadowBlocked).toEqual(['project:p:daily']);
    const limits = gw.gateway.engine.applicable.for(gw.calls[0].principal, gw.calls[0].target);
    const [state] = await gw.store.peek(limits.map((l) => l.item));
    expect(state.used).toBe(2 * (INPUT + 10));
  });
});
