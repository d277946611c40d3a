// Review s39 (README "Many instances: shared counters in Redis", budget leases): x-ratelimit-remaining-tokens
// of a call admitted against a lease. The README: "x-ratelimit-remaining-* from a local admission is the usage
// Redis last showed plus what this instance used since: other instances' use since then is not in it". With
// one instance and calls one after another there is no other instance's use, so the header should read what
// the exact path reads: the limit less the settled usage of earlier calls less this call's reservation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { startDelayProxy, type DelayProxy } from './helpers/redis-delay-proxy.js';
import { startStoreInstance, stopStoreInstance, type StoreInstance } from './helpers/store-instance.js';

const LIMIT = 100_000;
const MAX_TOKENS = 40;
const org = `s39h${Math.random().toString(36).slice(2, 8)}`;

const yamlFor = (redisUrl: string, extra = ''): string => `
server: {timezone: UTC}
storage: {counters: "${redisUrl}/0", instances: 1, lease_ms: 5000${extra}}
ledger: {enabled: false}
providers: {demo: {type: mock, latency_ms: 50, output_tokens: 10}}
organizations:
  ${org}: {daily_cap: ${LIMIT}}
routes:
  r:
    chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]
keys:
  - {id: k-${org}, key: tg-${org}, organization: ${org}}
`;
const yaml = yamlFor('redis://127.0.0.1:6379');

/** Ten calls one after another; what each read in x-ratelimit-remaining-tokens and what the exact path reads. */
async function tenCalls(client: OpenAI): Promise<{ expected: number[]; actual: number[] }> {
  let settled = 0;
  const expected: number[] = [];
  const actual: number[] = [];
  for (let i = 0; i < 10; i++) {
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: `Call ${i}` }], max_tokens: MAX_TOKENS })
      .withResponse();
    expected.push(LIMIT - settled - (data.usage!.prompt_tokens + MAX_TOKENS));
    actual.push(Number(response.headers.get('x-ratelimit-remaining-tokens')));
    settled += data.usage!.total_tokens;
  }
  return { expected, actual };
}

function localAdmissions(gw: StoreInstance): number {
  return (gw.store as unknown as { leaseStats(): { localAdmissions: number } }).leaseStats().localAdmissions;
}

describe('review s39: x-ratelimit-remaining-tokens of calls admitted against a budget lease', () => {
  let gw: StoreInstance;
  let client: OpenAI;
  beforeAll(async () => {
    gw = await startStoreInstance(yaml);
    client = new OpenAI({ apiKey: `tg-${org}`, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  }, 30_000);
  afterAll(async () => {
    if (gw) await stopStoreInstance(gw);
  });

  // Seen (2026-12-07): calls 0-3 go to Redis and read exactly (99,950, 99,930, 99,910, 99,890: each call
  // reserves 10 input + 40 output and uses 10 + 10). The 4th call makes the limit busy and a lease is asked
  // for while that call is still running (upstream latency 50 ms), so the lease's grant figure (usedAtGrant) holds the 4th call's whole
  // reservation of 50 rather than the 20 it settled at. Every call admitted against the lease then reads 30
  // tokens less room than there is: call 4 expected 99,870, got 99,840; call 5 expected 99,850, got 99,820; ...
  // The header is never corrected while the lease lasts, and the error grows with the unsettled part of every
  // reservation in flight when a lease is granted (many concurrent calls with a large max_tokens: far more).
  // Fixed (grant-figures.ts, GrantFigures.settled: a settlement of a call the store admitted before a grant takes
  // its unused part off the grant's figure). A reporting gap, on the conservative side; the limit was not affected.
  // Cause: leased-store.ts admitLocally, `used = lease.usedAtGrant - unused - ...`: usedAtGrant is the store's
  // figure at the grant, which counts the reservations then in flight whole; their settlements (the unused
  // part going back) are never subtracted from it (lease-grants.ts acquire sets usedAtGrant: state.used).
  it('one instance, calls one after another: a lease-admitted call reads the same remaining tokens as the exact path', async () => {
    const { expected, actual } = await tenCalls(client);
    // The calls after the 4th were admitted against the lease (no round trip).
    expect(localAdmissions(gw)).toBeGreaterThan(3);
    expect(actual).toEqual(expected);
  }, 30_000);
});

// The same, with the grant still on its way when the call that asked for it settles: on a loaded machine (three
// test files at once, CI 12-07) the settlement was sent before the grant's answer came, no lease was in the key
// yet to correct, and calls 4-9 read 30 less than the exact path. Here every byte to and from Redis takes 120 ms,
// so the grant's answer (240 ms) always comes after the settlement (50 ms upstream), call 4 goes to Redis while
// the grant is on its way (and is not in the grant's figure), and calls 5-9 are admitted against the lease.
// Fixed (grant-figures.ts): a settlement while a grant is on its way is kept on the key and applied once the
// grant is answered, and a call the store admitted after a grant is added to its figure; with the first fix
// alone, calls 5-9 read 20 more room than there was (call 4's usage missing).
describe('review s39: the same when the grant is answered after the call settled', () => {
  let proxy: DelayProxy;
  let gw: StoreInstance;
  beforeAll(async () => {
    proxy = await startDelayProxy(6379);
    gw = await startStoreInstance(yamlFor(`redis://127.0.0.1:${proxy.port}`, ', timeout_ms: 5000').replaceAll(org, `${org}d`));
    proxy.setDelay(120);
  }, 30_000);
  afterAll(async () => {
    if (gw) await stopStoreInstance(gw);
    await proxy?.close();
  });

  it('a lease-admitted call reads the same remaining tokens as the exact path', async () => {
    const { expected, actual } = await tenCalls(new OpenAI({ apiKey: `tg-${org}d`, baseURL: `${gw.url}/v1`, maxRetries: 0 }));
    expect(localAdmissions(gw)).toBeGreaterThan(3);
    // Call 4 went to Redis while the grant was on its way, and Redis counts the new lease whole: conservative.
    actual.forEach((a, i) => expect(a).toBeLessThanOrEqual(expected[i]));
    expect(actual.slice(5)).toEqual(expected.slice(5));
  }, 30_000);
});
