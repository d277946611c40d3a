// The stream relay on its own: exact pass-through of bytes whatever the chunking, removal of the usage
// chunk the gateway asked for, counting when no usage arrives, and backpressure from a slow client.
import { createServer, request as httpRequest, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { OpenAIChatStream } from '../src/providers/openai/index.js';
import { AnthropicMessagesStream } from '../src/providers/anthropic/index.js';
import { SseParser } from '../src/providers/sse/index.js';
import { relayStream } from '../src/proxy/stream-relay.js';
import { countTextTokens } from '../src/tokens/index.js';
import { OutputTokenCounter } from '../src/tokens/choice-counter.js';
import { mulberry32 } from '../src/util/prng.js';

/** A ServerResponse stand-in that collects what is written. */
function sink(): { res: ServerResponse; bytes: () => Buffer } {
  const out: Buffer[] = [];
  const res = {
    destroyed: false,
    write: (c: Uint8Array | string) => (out.push(Buffer.from(c)), true),
    on: () => res,
    off: () => res,
    destroy: () => undefined,
  };
  return { res: res as unknown as ServerResponse, bytes: () => Buffer.concat(out) };
}

async function* chunked(bytes: Buffer, rand: () => number): AsyncIterable<Uint8Array> {
  let i = 0;
  while (i < bytes.length) {
    const n = 1 + Math.floor(rand() * 80);
    yield bytes.subarray(i, i + n);
    i += n;
  }
}

const WORDS = ['Hello', ' wörld', ' 🎉', ' 12345', '\n', ' "quoted"', ' \\n', ' token'];

/** A chat stream as OpenAI sends it with include_usage, with optional comments and CRLF line ends. */
function chatStream(rand: () => number): { bytes: Buffer; text: string; usageFrame: string; eol: string } {
  const eol = rand() < 0.3 ? '\r\n' : '\n';
  const head = '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[';
  let out = `data: ${head}{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}${eol}${eol}`;
  let text = '';
  const n = Math.floor(rand() * 30);
  for (let i = 0; i < n; i++) {
    const w = WORDS[Math.floor(rand() * WORDS.length)];
    text += w;
    if (rand() < 0.1) out += `: keep-alive${eol}${eol}`;
    out += `data: ${head}{"index":0,"delta":{"content":${JSON.stringify(w)}},"finish_reason":null}],"usage":null}${eol}${eol}`;
  }
  out += `data: ${head}{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}${eol}${eol}`;
  const usageFrame = `data: ${head}],"usage":{"prompt_tokens":7,"completion_tokens":${n},"total_tokens":${7 + n}}}${eol}${eol}`;
  out += usageFrame + `data: [DONE]${eol}${eol}`;
  return { bytes: Buffer.from(out), text, usageFrame, eol };
}

describe('stream relay', () => {
  it('passes 300 random streams through byte for byte whatever the chunking, and reads their usage', async () => {
    const rand = mulberry32(0x5eed);
    for (let i = 0; i < 300; i++) {
      const { bytes } = chatStream(rand);
      const { res, bytes: written } = sink();
      const result = await relayStream(chunked(bytes, rand), res, { adapter: new OpenAIChatStream(true), counter: new OutputTokenCounter('gpt-4o'), inputFallback: () => 0 });
      expect(written().equals(bytes), `stream #${i}`).toBe(true);
      expect(result).toMatchObject({ outcome: 'complete', usage: { input: 7, source: 'provider' } });
    }
  });

  it('removes only the usage the client did not ask for (the usage chunk, and "usage":null in every other chunk), wherever the chunks split', async () => {
    const rand = mulberry32(0xabc);
    for (let i = 0; i < 300; i++) {
      const { bytes, usageFrame, eol } = chatStream(rand);
      const { res, bytes: written } = sink();
      await relayStream(chunked(bytes, rand), res, { adapter: new OpenAIChatStream(false), counter: new OutputTokenCounter('gpt-4o'), inputFallback: () => 0 });
      // A rewritten frame ends with the gateway's own line breaks; everything else is as it came.
      const expected = bytes.toString().replace(usageFrame, '').split(`,"usage":null}${eol}${eol}`).join('}\n\n');
      expect(written().toString(), `stream #${i}`).toBe(expected);
    }
  });

  it('removes the usage the client did not ask for from the last choice chunk too, where some OpenAI-compatible servers put it', async () => {
    const rand = mulberry32(0x1a57);
    for (let i = 0; i < 50; i++) {
      const { bytes, usageFrame } = chatStream(rand);
      const usage = /"usage":(\{[^}]*\})/.exec(usageFrame)![1];
      // No usage chunk of its own: the usage rides on the chunk with finish_reason.
      const onLastChoice = bytes.toString().replace(usageFrame, '').replace(`"finish_reason":"stop"}],"usage":null}`, `"finish_reason":"stop"}],"usage":${usage}}`);
      const { res, bytes: written } = sink();
      const result = await relayStream(chunked(Buffer.from(onLastChoice), rand), res, { adapter: new OpenAIChatStream(false), counter: new OutputTokenCounter('gpt-4o'), inputFallback: () => 0 });
      const sent = written().toString();
      expect(sent, `stream #${i}`).not.toContain('"usage"');
      expect(sent).toContain('"finish_reason":"stop"}]}\n\n'); // rewritten, with the gateway's line breaks
      expect(result.usage).toMatchObject({ input: 7, source: 'provider' });
    }
  });

  it('cuts only "usage":null out of chunks where OpenAI writes "obfuscation" after it, every other byte as it came', async () => {
    // OpenAI's chunks as sent with include_usage (obfuscation is on by default); Python writes small
    // logprobs as -1.9361265e-07, which JSON.stringify would rewrite as -1.9361265e-7.
    const head = '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_1","choices":[';
    const logprobs = '{"content":[{"token":"Hi","logprob":-1.9361265e-07,"bytes":[72,105],"top_logprobs":[]}],"refusal":null}';
    const frames = [
      `${head}{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"RmYFV8ad65HP9F"}`,
      `${head}{"index":0,"delta":{"content":"Hi"},"logprobs":${logprobs},"finish_reason":null}],"usage":null,"obfuscation":"l7qY"}`,
      `${head}{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null,"obfuscation":"azv06a8lAt"}`,
    ];
    const usage = `${head}],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10},"obfuscation":"x"}`;
    const upstream = [...frames, usage, '[DONE]'].map((f) => `data: ${f}\n\n`).join('');
    const { res, bytes: written } = sink();
    const result = await relayStream(chunked(Buffer.from(upstream), mulberry32(7)), res, { adapter: new OpenAIChatStream(false), counter: new OutputTokenCounter('gpt-4o'), inputFallback: () => 0 });
    const expected = [...frames.map((f) => f.replace(',"usage":null', '')), '[DONE]'].map((f) => `data: ${f}\n\n`).join('');
    expect(written().toString()).toBe(expected);
    expect(result.usage).toMatchObject({ input: 9, output: 1, source: 'provider' });
  });

  it('removes a null usage written first, alone, or beside a nested one, and keeps the rest of the chunk', async () => {
    const cases = [
      ['{"usage":null,"choices":[{"index":0,"delta":{"content":"a"}}]}', '{"choices":[{"index":0,"delta":{"content":"a"}}]}'],
      ['{"choices":[{"index":0,"delta":{"content":"a","usage":null}}],"usage":null}', '{"choices":[{"index":0,"delta":{"content":"a","usage":null}}]}'],
      ['{"choices":[{"index":0,"delta":{"content":"say \\"usage\\":null"}}],"usage":null}', '{"choices":[{"index":0,"delta":{"content":"say \\"usage\\":null"}}]}'],
    ];
    for (const [chunk, without] of cases) {
      const { res, bytes: written } = sink();
      await relayStream(chunked(Buffer.from(`data: ${chunk}\n\ndata: [DONE]\n\n`), mulberry32(3)), res, { adapter: new OpenAIChatStream(false), counter: new OutputTokenCounter('gpt-4o'), inputFallback: () => 0 });
      expect(written().toString()).toBe(`data: ${without}\n\ndata: [DONE]\n\n`);
    }
  });

  it('counts the delivered text exactly when the upstream sends no usage', async () => {
    const rand = mulberry32(0x70c);
    for (let i = 0; i < 100; i++) {
      const { bytes, text, usageFrame } = chatStream(rand);
      const { res } = sink();
      const noUsage = Buffer.from(bytes.toString().replace(usageFrame, ''));
      const result = await relayStream(chunked(noUsage, rand), res, { adapter: new OpenAIChatStream(false), counter: new OutputTokenCounter('gpt-4o'), inputFallback: () => 11 });
      expect(result.usage).toEqual({ input: 11, output: countTextTokens(text, 'gpt-4o'), cachedInput: 0, source: 'estimated' });
    }
  });

  it('hands an upstream failure to the client as an error event in its format', async () => {
    async function* dying(): AsyncIterable<Uint8Array> {
      yield Buffer.from('event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":5,"output_tokens":1}}}\n\n');
      yield Buffer.from('event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi there"}}\n\n');
      throw new Error('socket hang up');
    }
    const { res, bytes } = sink();
    const result = await relayStream(dying(), res, { adapter: new AnthropicMessagesStream(), counter: new OutputTokenCounter('claude-sonnet-4'), inputFallback: () => 99 });
    expect(result).toMatchObject({ outcome: 'upstream_failed', usage: { input: 5, output: countTextTokens('Hi there', 'claude-sonnet-4'), source: 'estimated' } });
    const p = new SseParser();
    const last = p.push(bytes()).at(-1)!;
    expect(last.event).toBe('error');
    expect(JSON.parse(last.data)).toEqual({ type: 'error', error: { type: 'api_error', message: 'The upstream stream failed: socket hang up' } });
  });

  it('a slow client slows the upstream read: nothing is read ahead while its socket is full', async () => {
    const FRAME = Buffer.from(`data: ${'x'.repeat(64 * 1024 - 8)}\n\n`);
    const TOTAL = 400; // 25 MB if read ahead without bound
    const DONE = Buffer.from('data: [DONE]\n\n');
    let pulled = 0;
    async function* producer(): AsyncIterable<Uint8Array> {
      for (let i = 0; i < TOTAL; i++) {
        pulled++;
        yield FRAME;
      }
      yield DONE;
    }
    let done: Promise<unknown> = Promise.resolve();
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      done = relayStream(producer(), res, { adapter: new OpenAIChatStream(true), counter: new OutputTokenCounter('gpt-4o'), inputFallback: () => 0 }).then(() => res.end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/' }, (res) => {
        res.pause(); // the client reads nothing for a while
        setTimeout(() => {
          try {
            // Socket buffers hold a few MB at most; everything else is still upstream.
            expect(pulled).toBeLessThan(TOTAL / 4);
          } catch (err) {
            reject(err);
          }
          res.on('data', (c: Buffer) => (received += c.length));
          res.on('end', resolve);
          res.resume();
        }, 400);
      });
      req.on('error', reject);
      req.end();
    });
    await done;
    expect(pulled).toBe(TOTAL);
    expect(received).toBe(TOTAL * FRAME.length + DONE.length);
    server.close();
  });
});
