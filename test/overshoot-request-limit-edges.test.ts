// A project's request_limit at its exact edge, on each endpoint's way of sizing a call: input + output one
// token under, at and over the cap. With clamping off, under and at are admitted as sent and over is the
// 400 that can never pass; with clamping on, over is lowered to exactly the room (per choice when there are
// several). Inputs are long enough (> 512 bytes) that the cheap byte bound is what the engine sees first,
// so the edge is decided on the exact count, not on the bound (which would refuse "at" as over).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimateInput } from '../src/tokens/index.js';
import { startTestGateway, type TestGateway } from './helpers/in-process.js';

const CAP = 1000;
const TEXT = 'The ledger and the counters agree to the token. '.repeat(14);

let strict: TestGateway;
let clamping: TestGateway;

const config = (clamp: boolean): string => `
providers: {demo: {type: mock, output_tokens: 100000}}
projects: {p: {daily_limit: 1000000, request_limit: ${CAP}}}
routes:
  r:
    chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]
keys: [{id: k, key: tg-k, project: p}]
enforcement: {clamp_max_tokens: ${clamp}}
`;

beforeAll(async () => {
  strict = await startTestGateway(config(false));
  clamping = await startTestGateway(config(true));
});
afterAll(async () => {
  await strict?.close();
  await clamping?.close();
});

async function post(gw: TestGateway, path: string, body: Record<string, unknown>): Promise<{ status: number; clamped: string | null; output: number }> {
  const res = await fetch(gw.url + path, { method: 'POST', headers: { authorization: 'Bearer tg-k', 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const answer = (await res.json()) as { usage?: { completion_tokens?: number; output_tokens?: number } };
  return { status: res.status, clamped: res.headers.get('x-tollgate-clamped-max-tokens'), output: answer.usage?.completion_tokens ?? answer.usage?.output_tokens ?? 0 };
}

/** Each endpoint's body for a per-choice cap of `cap`, its exact input, and how many choices share the output. */
const SHAPES = [
  { name: 'chat', path: '/v1/chat/completions', endpoint: 'chat', choices: 1, body: (cap: number) => ({ model: 'gpt-4o', messages: [{ role: 'user', content: TEXT }], max_tokens: cap }) },
  { name: 'chat, n = 3', path: '/v1/chat/completions', endpoint: 'chat', choices: 3, body: (cap: number) => ({ model: 'gpt-4o', messages: [{ role: 'user', content: TEXT }], max_completion_tokens: cap, n: 3 }) },
  { name: 'completions, 2 prompts × n = 2', path: '/v1/completions', endpoint: 'completions', choices: 4, body: (cap: number) => ({ model: 'gpt-4o', prompt: [TEXT, TEXT.slice(0, 100)], max_tokens: cap, n: 2 }) },
  { name: 'responses', path: '/v1/responses', endpoint: 'responses', choices: 1, body: (cap: number) => ({ model: 'gpt-4o', input: TEXT, max_output_tokens: cap }) },
] as const;

describe('request_limit at its edge', () => {
  for (const shape of SHAPES) {
    const input = estimateInput(shape.endpoint, shape.body(1), 'gpt-4o').exact();
    // The largest per-choice cap that fits: input + choices × cap <= CAP.
    const fits = Math.floor((CAP - input) / shape.choices);

    it(`${shape.name}: under and at the cap pass as sent, one token over is a 400 (clamping off)`, async () => {
      expect(Buffer.byteLength(TEXT)).toBeGreaterThan(512);
      const under = await post(strict, shape.path, shape.body(fits - 1));
      const at = await post(strict, shape.path, shape.body(fits));
      expect(under).toMatchObject({ status: 200, clamped: null, output: (fits - 1) * shape.choices });
      expect(at).toMatchObject({ status: 200, clamped: null, output: fits * shape.choices });
      const over = await post(strict, shape.path, shape.body(fits + 1));
      expect(over.status).toBe(400);
    });

    it(`${shape.name}: one token over is clamped to exactly the room (clamping on)`, async () => {
      const over = await post(clamping, shape.path, shape.body(fits + 1));
      expect(over).toMatchObject({ status: 200, clamped: String(fits), output: fits * shape.choices });
      const call = clamping.calls.at(-1)!;
      expect(call.reserved.input + call.reserved.output).toBeLessThanOrEqual(CAP);
    });
  }
});
