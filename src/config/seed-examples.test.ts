// The two seed dialects must load exactly as written; the shared originals are checked too
// when they are present beside the repository, so the repo copies cannot drift unnoticed.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadPolicy } from './index.js';
import type { LimitSpec, Policy } from './index.js';
import { sha256Hex } from './sha256.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const sharedExamples = resolve(repoRoot, '../shared/examples');
const dirs = [resolve(repoRoot, 'examples'), ...(existsSync(sharedExamples) ? [sharedExamples] : [])];

const daily = (max: number): LimitSpec => ({ name: 'daily', measure: 'total', algorithm: 'fixed_window', window: { kind: 'calendar', unit: 'day' }, max, mode: 'enforce' });
const monthly = (max: number): LimitSpec => ({ name: 'monthly', measure: 'total', algorithm: 'fixed_window', window: { kind: 'calendar', unit: 'month' }, max, mode: 'enforce' });
const rate = (max: number): LimitSpec => ({ name: 'rate', measure: 'requests', algorithm: 'sliding_window', window: { kind: 'duration', ms: 60_000 }, max, mode: 'enforce' });
const hourly = (measure: 'input' | 'output', ms: number, max: number): LimitSpec => ({ name: measure, measure, algorithm: 'fixed_window', window: { kind: 'duration', ms }, max, mode: 'enforce' });

function expectTokenLimitsSeed(policy: Policy): void {
  expect(policy.organizations.get('default')!.limits).toEqual([daily(500_000), monthly(10_000_000)]);
  expect(policy.projects.get('production')).toEqual({ id: 'production', requestLimit: 4000, priority: 'high', limits: [daily(200_000)] });
  expect(policy.projects.get('development')).toEqual({ id: 'development', requestLimit: 2000, priority: 'low', limits: [daily(50_000)] });
  expect(policy.tiers.get('tier_premium')!.limits).toEqual([daily(50_000), rate(100)]);
  expect(policy.tiers.get('tier_standard')!.limits).toEqual([daily(10_000), rate(30)]);
  expect(policy.alerts).toEqual([
    { threshold: 0.8, action: 'warn', channels: ['slack', 'email'] },
    { threshold: 0.95, action: 'throttle', channels: [], reduction: 0.5 },
    { threshold: 1.0, action: 'block', channels: [], fallback: 'cache', fallbacks: ['cache'] },
  ]);
}

function expectRoutesSeed(policy: Policy): void {
  expect([...policy.routes.keys()]).toEqual(['production', 'per-user', 'per-group', 'small']);
  const gpt4o = [{ modelId: 'gpt-4o', provider: 'openai', upstreamModel: 'gpt-4o', kind: 'chat' }];
  expect(policy.routes.get('production')).toEqual({
    name: 'production', models: gpt4o, fallback: [], scope: 'route',
    limits: [hourly('input', 3_600_000, 1_000_000), hourly('output', 3_600_000, 1_000_000)],
  });
  expect(policy.routes.get('per-user')).toMatchObject({ scope: 'user', limits: [hourly('input', 3_600_000, 100_000), hourly('output', 3_600_000, 500_000)] });
  expect(policy.routes.get('per-group')).toMatchObject({ scope: 'group', limits: [hourly('input', 86_400_000, 1_000_000), hourly('output', 86_400_000, 5_000_000)] });
  expect(policy.routes.get('small')).toMatchObject({ scope: 'route', limits: [hourly('input', 3_600_000, 1000), hourly('output', 600_000, 500)] });
  expect([...policy.providers.keys()]).toEqual(['openai', 'anthropic']); // No providers section: built-ins.
}

describe.each(dirs)('seed examples in %s', (dir) => {
  it('loads seed-token-limits.yaml as written', () => {
    expectTokenLimitsSeed(loadPolicy([resolve(dir, 'seed-token-limits.yaml')], {}));
  });

  it('loads seed-routes.yaml as written', () => {
    expectRoutesSeed(loadPolicy([resolve(dir, 'seed-routes.yaml')], {}));
  });

  it('loads both dialects merged into one policy', () => {
    const policy = loadPolicy([resolve(dir, 'seed-token-limits.yaml'), resolve(dir, 'seed-routes.yaml')], {});
    expectTokenLimitsSeed(policy);
    expectRoutesSeed(policy);
  });
});

describe('repository copies of the seeds', () => {
  it.runIf(existsSync(sharedExamples))('are byte-for-byte the shared originals', () => {
    for (const name of ['seed-token-limits.yaml', 'seed-routes.yaml']) {
      expect(readFileSync(resolve(repoRoot, 'examples', name))).toEqual(readFileSync(resolve(sharedExamples, name)));
    }
  });
});

describe('examples/quickstart.yaml', () => {
  const policy = loadPolicy([resolve(repoRoot, 'examples/quickstart.yaml')], {});

  it('serves the mock demo provider locally', () => {
    expect(policy.server).toEqual({ host: '127.0.0.1', port: 4000, timezone: 'UTC', maxBodyBytes: undefined, drainDelayMs: 0, drainTimeoutMs: 30_000, corsOrigins: [] });
    expect(policy.storage).toEqual({
      counters: 'memory', ledger: 'sqlite:./data/tollgate.db', onStoreError: 'fail_closed', timeoutMs: 250, rebuildWaitMs: 2000, instances: 1, reservationTtlMs: 1_200_000, reservationTtlFromTimeouts: true, leaseMs: 0, keyRefreshMs: 5000,
    });
    expect([...policy.providers.values()]).toEqual([
      { name: 'demo', type: 'mock', headers: {}, timeoutMs: 600_000, mock: { latencyMs: 5, outputTokens: 60 } },
    ]);
    expect(policy.pricing.get('demo/gpt-4o')).toEqual({ input: 2.5, output: 10 });
    expect(policy.pricing.get('demo/gpt-4o-mini')).toEqual({ input: 0.15, output: 0.6 });
  });

  it('has the documented limits, route and keys', () => {
    expect(policy.organizations.get('default')!.limits).toEqual([daily(500_000), monthly(10_000_000)]);
    expect(policy.projects.get('production')).toEqual({ id: 'production', requestLimit: 4000, priority: 'high', limits: [daily(200_000)] });
    expect(policy.projects.get('development')).toEqual({ id: 'development', requestLimit: 2000, priority: 'low', limits: [daily(50_000)] });
    expect(policy.tiers.get('tier_trial')!.limits).toEqual([daily(400), rate(10)]);
    expect(policy.routes.get('demo')).toEqual({
      name: 'demo',
      models: [
        { modelId: 'gpt-4o', provider: 'demo', upstreamModel: 'gpt-4o', kind: 'chat' },
        { modelId: 'gpt-4o-mini', provider: 'demo', upstreamModel: 'gpt-4o-mini', kind: 'chat' },
        { modelId: 'text-embedding-3-small', provider: 'demo', upstreamModel: 'text-embedding-3-small', kind: 'embedding' },
      ],
      fallback: ['gpt-4o-mini'],
      scope: 'user',
      limits: [hourly('input', 3_600_000, 100_000), hourly('output', 3_600_000, 50_000)],
    });
    expect(policy.keys).toEqual([
      { id: 'alice', sha256: sha256Hex('tg-demo-alice'), organization: 'default', user: 'alice', tier: 'tier_premium', project: 'production', groups: ['ml-team'] },
      { id: 'bob', sha256: sha256Hex('tg-demo-bob'), organization: 'default', user: 'bob', tier: 'tier_trial', project: 'development', groups: [] },
    ]);
    // A request without max_tokens must fit under the smallest per-request cap.
    expect(policy.enforcement.defaultMaxTokens).toBeLessThan(2000);
  });
});
