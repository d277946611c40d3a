// What an open stream costs the gateway in live heap: 1,000 slow streams are the streaming bench's
// memory target (src/bench/streams.ts), so each one's share must stay small. Measured in this process:
// the same number of streams is held open straight to the upstream and then through the gateway, and the
// difference is the gateway's own (the test client's and the upstream's objects are in both). Streams
// are held open by the upstream until released, not by timers, and each is measured once its first frames
// have gone through, as a slow stream sits between two tokens.
import type { IncomingMessage, ServerResponse } from 'node:http';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Agent, request } from 'undici';
import { expect, it } from 'vitest';
import { useBehindWireUpstream } from './helpers/behind-wire-upstream.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const STREAMS = 300;
const FIRST_FRAMES = 30;
const HEAD = '{"id":"chatcmpl-mem","object":"chat.completion.chunk","created":1,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_1","choices":[';
const frame = (delta: string, finish: string | null = null): string => `data: ${HEAD}{"index":0,"delta":${delta},"finish_reason":${JSON.stringify(finish)}}],"usage":null}\n\n`;
const WORDS = [' Tokens', ' flow', ' slowly', ' through', ' the', ' gateway'];

let releases: Array<() => void> = [];

/**
 * A chat stream that sends its first frames a few ms apart (each its own chunk, as a slow model's tokens
 * are) and the rest when released.
 */
function slowStream(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(frame('{"role":"assistant","content":""}'));
  let sent = 1;
  const next = (): void => {
    if (res.destroyed) return;
    res.write(frame(JSON.stringify({ content: WORDS[sent % WORDS.length] })));
    if (++sent < FIRST_FRAMES) setTimeout(next, 2);
  };
  setTimeout(next, 2);
  releases.push(() => {
    if (res.destroyed) return;
    for (const w of WORDS) res.write(frame(JSON.stringify({ content: w })));
    res.write(frame('{}', 'stop'));
    res.write(`data: ${HEAD}],"usage":{"prompt_tokens":9,"completion_tokens":${FIRST_FRAMES - 1 + WORDS.length},"total_tokens":${9 + FIRST_FRAMES - 1 + WORDS.length}}}\n\n`);
    res.end('data: [DONE]\n\n');
  });
}

const { gw, upstream } = useBehindWireUpstream(slowStream, (url) => `
providers: {openai: {type: openai, base_url: "${url}", api_key: sk-upstream-key-0123456789}}
routes: {r: {chat_models: [{model_id: gpt-4o, model: openai/gpt-4o}]}}
users: {t: {daily_limit: 100000000}}
keys:
  - {id: k, key: tg-k, user: u, tier: t}
`);

interface OpenStream {
  /** Resolves with the stream's whole text once it ends. */
  done: Promise<string>;
}

/** Opens one stream at `base` and resolves once its first frames have arrived; the rest is read in the background. */
async function open(agent: Agent, base: string, prompt: string): Promise<OpenStream> {
  const res = await request(`${base}/chat/completions`, {
    method: 'POST',
    dispatcher: agent,
    headers: { authorization: 'Bearer tg-k', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: prompt }], max_tokens: 100, stream: true }),
  });
  expect(res.statusCode).toBe(200);
  const it = res.body[Symbol.asyncIterator]();
  let text = '';
  while ((text.match(/\n\n/g) ?? []).length < FIRST_FRAMES) {
    const step = await it.next();
    if (step.done) break;
    text += (step.value as Buffer).toString();
  }
  const done = (async (): Promise<string> => {
    for (let step = await it.next(); !step.done; step = await it.next()) text += (step.value as Buffer).toString();
    return text;
  })();
  return { done };
}

/** Heap held by `STREAMS` streams open at `base`, in bytes per stream; every stream is then run to its end. */
async function heapPerOpenStream(base: string, prompt: string): Promise<number> {
  const agent = new Agent({ connections: STREAMS + 8, keepAliveTimeout: 60_000 });
  // Warm-up: connections, JIT and lazily made objects are not what a stream costs.
  await runToEnd(await Promise.all(Array.from({ length: 20 }, () => open(agent, base, prompt))));
  gc();
  const before = process.memoryUsage().heapUsed;
  const streams = await Promise.all(Array.from({ length: STREAMS }, () => open(agent, base, prompt)));
  gc();
  const held = process.memoryUsage().heapUsed - before;
  const texts = await runToEnd(streams);
  expect(texts.every((t) => t.endsWith('data: [DONE]\n\n'))).toBe(true);
  await agent.close();
  return held / STREAMS;
}

async function runToEnd(streams: OpenStream[]): Promise<string[]> {
  const now = releases;
  releases = [];
  for (const release of now) release();
  return Promise.all(streams.map((s) => s.done));
}

/** The gateway's own heap per open stream whose request carries `prompt`: through it, less straight to the upstream. */
async function gatewaysOwnHeap(prompt: string): Promise<number> {
  const direct = await heapPerOpenStream(upstream().url, prompt);
  const through = await heapPerOpenStream(`${gw().url}/v1`, prompt);
  const own = through - direct;
  // eslint-disable-next-line no-console
  console.log(`${prompt.length} B prompt, heap per open stream: direct ${(direct / 1024).toFixed(1)} KB, through the gateway ${(through / 1024).toFixed(1)} KB, the gateway's own ${(own / 1024).toFixed(1)} KB`);
  return own;
}

// 22.5 KB measured (12-06, 300 streams; 22-24 with 200): the gateway's server socket and response, the provider pool's connection,
// the pipeline's and the relay's state. The bound leaves room for noise, not for a stream that keeps what
// it relayed (the 30 frames each has passed on are ~7 KB) or a buffer per stream.
it('an open stream holds less than 26 KB of the gateway’s heap', async () => {
  const own = await gatewaysOwnHeap('Stream to me slowly.');
  expect(own).toBeGreaterThan(5 * 1024); // the measure measured something: sockets and a relay are not free
  expect(own).toBeLessThan(26 * 1024);
}, 30_000);

// The parsed prompt stays for the stream's life: its exact count when the provider reports no usage, the
// call's pricing, a Responses turn's stored context. Its JSON text sent upstream was kept too, by undici
// until the response ended: 96.2 KB measured (12-06) with a 40 KB prompt; 55.8 KB once it went as a Buffer
// (upstream-pool.ts bytesOf). The bound allows one copy of the prompt, and a quarter of one for noise.
const BIG_PROMPT = 'Read this long document, then answer slowly. '.repeat(1000).slice(0, 40 * 1024);
it('an open stream with a 40 KB prompt holds the prompt once', async () => {
  const own = await gatewaysOwnHeap(BIG_PROMPT);
  expect(own).toBeLessThan(26 * 1024 + 1.25 * BIG_PROMPT.length);
}, 30_000);
