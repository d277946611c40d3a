// The audit resolves every configured key on every model a few keys per turn of the event loop
// (configuredLimitsInTurns): the same limits as all at once, with the event loop free in between.
import { expect, it } from 'vitest';
import { loadPolicy } from '../src/config/index.js';
import { configuredLimits, configuredLimitsInTurns } from '../src/ledger/configured-limits.js';
import { writeConfig } from './helpers/processes.js';

const KEYS = 150;

const policy = loadPolicy(
  [
    writeConfig(`
server: {timezone: UTC}
providers:
  demo: {type: mock}
projects:
${Array.from({ length: 7 }, (_, i) => `  p${i}: {daily_limit: 5000}`).join('\n')}
users:
  t: {daily_limit: 1000}
routes:
  main:
    token_limiting:
      scope: user
      output: {algorithm: fixed_window, window_size: 1 hour, max_token: 500}
    chat_models:
      - {model_id: a, model: demo/a}
      - {model_id: b, model: demo/b}
keys:
${Array.from({ length: KEYS }, (_, i) => `  - {id: k${i}, key: tg-k${i}, user: u${i % 100}, tier: t, project: p${i % 7}}`).join('\n')}
`),
  ],
  {},
);

it('finds the same limits as resolving every key at once, letting other tasks run in between', async () => {
  let ranBetween = false;
  setImmediate(() => (ranBetween = true));
  const inTurns = await configuredLimitsInTurns(policy);
  expect(ranBetween).toBe(true);
  const atOnce = configuredLimits(policy);
  const keysOf = (list: typeof atOnce) => list.map((c) => `${c.organization} ${c.limit.item.key}`).sort();
  expect(keysOf(inTurns)).toEqual(keysOf(atOnce));
  // Per user (100): the tier's daily limit; per key (150): the route's output limit (scope user is per key);
  // per project (7): its daily limit.
  const count = (prefix: string) => atOnce.filter((c) => c.limit.id.startsWith(prefix)).length;
  expect([count('user:'), count('route:main:key:'), count('project:'), atOnce.length]).toEqual([100, KEYS, 7, 100 + KEYS + 7]);
});
