// A reload that switches a limit between tokens and dollars keeps its counter (the key names no unit), so
// the counter's figure is read in the other unit until the window ends: the reload says which limits.
import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { unitChanges } from '../src/limits/unit-changes.js';
import { load } from './helpers/config-texts.js';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';

const config = (web: string, tiers = 'free: {daily_limit: 1000}, paid: {daily_limit: {max_cost_usd: 1}}', aliceTier = 'free', users = 1) =>
  `
providers: {demo: {type: mock}}
pricing: {"demo/gpt-4o": {input: 2.5, output: 10}}
projects: {web: {daily_limit: ${web}}}
users: {${tiers}}
routes: {main: {chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]}}
keys:
  - {id: alice, key: tg-alice, project: web, user: alice, tier: ${aliceTier}}
${Array.from({ length: users }, (_, i) => `  - {id: u${i}, key: tg-u${i}, project: web, user: u${i}, tier: ${aliceTier}}`).join('\n')}
`;

describe('unitChanges', () => {
  it('names a limit switched between tokens and dollars under the same algorithm', () => {
    expect(unitChanges(load(config('100000')), load(config('{max_cost_usd: 5}')))).toEqual(["project 'web' daily limit (tokens -> USD)"]);
    expect(unitChanges(load(config('{max_cost_usd: 5}')), load(config('100000')))).toEqual(["project 'web' daily limit (USD -> tokens)"]);
  });

  it('leaves out a limit whose algorithm changed too (a new counter), or whose unit stayed', () => {
    expect(unitChanges(load(config('100000')), load(config('{max_cost_usd: 5, algorithm: sliding_window}')))).toEqual([]);
    expect(unitChanges(load(config('100000')), load(config('5000')))).toEqual([]);
  });

  it("names each user moved to a tier whose limit of the same name counts in another unit, at most ten", () => {
    expect(unitChanges(load(config('100000')), load(config('100000', undefined, 'paid')))).toEqual(["user 'alice' (tier free -> paid) daily limit (tokens -> USD)", "user 'u0' (tier free -> paid) daily limit (tokens -> USD)"]);
    const many = unitChanges(load(config('100000', undefined, 'free', 20)), load(config('100000', undefined, 'paid', 20)));
    expect(many).toHaveLength(11);
    expect(many[10]).toBe('and 11 more');
  });
});

describe('a reload that switches a limit to dollars', () => {
  let gw: RunningProcess | undefined;
  afterAll(async () => void (await gw?.stop()));

  it('logs a warning naming it', async () => {
    const file = writeConfig(config('100000'));
    gw = await startCli(['serve', '--config', file, '--port', '0']);
    writeFileSync(file, config('{max_cost_usd: 5}'));
    gw.child.kill('SIGHUP');
    for (let i = 0; i < 200 && !gw.output().includes('keep their counters'); i++) await new Promise((r) => setTimeout(r, 25));
    expect(gw.output()).toMatch(/limits that now count in another unit keep their counters.*project 'web' daily limit \(tokens -> USD\)/);
  });
});
