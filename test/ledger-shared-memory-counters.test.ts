// Two gateways with counters in memory on one SQLite ledger. Regression test from an SRE pass: the second
// started without a word, and each enforced every limit on its own (a 3-request limit admitted 6). Now
// the second says so at start; a gateway killed with -9 leaves no claim behind to warn a restart falsely.
import { afterEach, expect, it } from 'vitest';
import { startCli, writeConfig, type RunningProcess } from './helpers/processes.js';

const WARNING = /another gateway with counters in memory is running on this SQLite ledger/;
const running: RunningProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((g) => g.stop('SIGKILL')));
});

async function serve(config: string): Promise<RunningProcess> {
  const gateway = await startCli(['serve', '--config', config, '--port', '0']);
  running.push(gateway);
  return gateway;
}

const call = (url: string): Promise<number> =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer tg-a', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
  }).then((r) => r.status);

it('the second gateway on the file warns that each enforces every limit alone; a restart after kill -9 does not', async () => {
  const config = writeConfig(`
storage: {counters: memory, ledger: "sqlite:./ledger.db"}
providers: {demo: {type: mock, output_tokens: 5}}
users: {t: {rate_limit: 3}}
routes: {r: {chat_models: [{model_id: m, model: demo/gpt-4o}]}}
keys: [{id: a, key: tg-a, user: u, tier: t}]
`);
  const first = await serve(config);
  const second = await serve(config);
  // What the warning is about: each admits the whole rate limit.
  const statuses = await Promise.all([first.url, first.url, first.url, second.url, second.url, second.url].map(call));
  expect(statuses.filter((s) => s === 200)).toHaveLength(6);
  expect(second.output()).toMatch(WARNING);
  expect(first.output()).not.toMatch(WARNING);

  // Both gone, the first without any chance to clean up: the next gateway starts alone, and says nothing.
  await first.stop('SIGKILL');
  await second.stop('SIGTERM');
  const third = await serve(config);
  expect((await fetch(`${third.url}/healthz`)).status).toBe(200);
  expect(third.output()).not.toMatch(WARNING);
}, 60_000);
