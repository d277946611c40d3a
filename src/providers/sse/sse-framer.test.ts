import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SseFramer, SseParser, type SseEvent } from './index.js';
import { mulberry32 } from '../../util/prng.js';

const enc = new TextEncoder();

interface Framed {
  frames: Uint8Array[];
  rest: Uint8Array;
}

function frameAll(bytes: Uint8Array, cuts: number[]): Framed {
  const framer = new SseFramer();
  const frames: Uint8Array[] = [];
  let prev = 0;
  for (const cut of [...cuts, bytes.length]) {
    const { bytes: b, ends } = framer.push(bytes.subarray(prev, cut));
    let start = 0;
    for (const end of ends) {
      frames.push(b.slice(start, end));
      start = end;
    }
    prev = cut;
  }
  return { frames, rest: framer.end() };
}

function parse(chunks: Uint8Array[]): SseEvent[] {
  const p = new SseParser({ dispatchIncompleteAtEnd: true });
  const out: SseEvent[] = [];
  for (const c of chunks) out.push(...p.push(c));
  return [...out, ...p.end()];
}

function randomCuts(rand: () => number, length: number): number[] {
  const cuts = new Set<number>();
  const n = Math.floor(rand() * Math.min(length, 60));
  for (let i = 0; i < n; i++) cuts.add(Math.floor(rand() * (length + 1)));
  return [...cuts].sort((a, b) => a - b);
}

const PIECES = ['data: {"a":1}', 'data: x', 'data:', 'data', 'event: e', 'event: message_delta', ': ping', ':', 'id: 7', 'retry: 10', 'data: 日本 🎉', 'foo: bar', ''];
const ENDINGS = ['\n', '\r', '\r\n'];

function randomStream(rand: () => number): Uint8Array {
  let text = rand() < 0.1 ? '\ufeff' : '';
  const lines = Math.floor(rand() * 40);
  for (let i = 0; i < lines; i++) text += PIECES[Math.floor(rand() * PIECES.length)] + ENDINGS[Math.floor(rand() * ENDINGS.length)];
  if (rand() < 0.3) text += 'data: unterminated';
  return enc.encode(text);
}

describe('SseFramer', () => {
  it('splits recorded streams into one frame per event, byte for byte', () => {
    for (const name of ['openai-chat-include-usage.sse', 'anthropic-messages.sse', 'anthropic-messages-tool-use.sse', 'openai-responses.sse']) {
      const bytes = readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
      const { frames, rest } = frameAll(bytes, []);
      expect(Buffer.concat([...frames, rest]).equals(bytes)).toBe(true);
      const p = new SseParser();
      const perFrame = frames.map((f) => p.push(f));
      expect(perFrame.every((events) => events.length === 1)).toBe(true);
      expect(perFrame.flat()).toEqual(parse([bytes]));
    }
  });

  it('CRLF frames keep their final LF, even when it arrives in the next chunk', () => {
    const bytes = enc.encode('data: a\r\n\r\ndata: b\r\n\r\n');
    expect(frameAll(bytes, []).frames.map((f) => Buffer.from(f).toString())).toEqual(['data: a\r\n\r\n', 'data: b\r\n\r\n']);
    const split = frameAll(bytes, [11]); // between the CR and the LF ending the first frame
    expect(Buffer.concat([...split.frames, split.rest]).equals(Buffer.from(bytes))).toBe(true);
    expect(parse(split.frames)).toEqual([{ data: 'a' }, { data: 'b' }]);
  });

  it('1,000 random streams split at random byte offsets: frames rebuild the bytes and parse to the same events', () => {
    const rand = mulberry32(0xf4a3e);
    for (let i = 0; i < 1000; i++) {
      const bytes = randomStream(rand);
      const whole = parse([bytes]);
      const { frames, rest } = frameAll(bytes, randomCuts(rand, bytes.length));
      expect(Buffer.concat([...frames, rest]).equals(Buffer.from(bytes)), `stream #${i}`).toBe(true);
      expect(parse([...frames, rest]), `stream #${i}`).toEqual(whole);
      // Each complete frame dispatches at most one event, exactly at its end.
      const p = new SseParser();
      for (const f of frames) expect(p.push(f).length).toBeLessThanOrEqual(1);
    }
  });

  it('never throws on garbage and bounds what it holds', () => {
    const rand = mulberry32(0xbad5);
    for (let i = 0; i < 300; i++) {
      const bytes = new Uint8Array(Math.floor(rand() * 600));
      for (let j = 0; j < bytes.length; j++) bytes[j] = rand() < 0.3 ? [10, 13, 58, 32][Math.floor(rand() * 4)] : Math.floor(rand() * 256);
      const { frames, rest } = frameAll(bytes, randomCuts(rand, bytes.length));
      expect(Buffer.concat([...frames, rest]).equals(Buffer.from(bytes))).toBe(true);
    }
    const framer = new SseFramer();
    const big = new Uint8Array(1024 * 1024).fill(0x61);
    expect(() => {
      for (let i = 0; i < 40; i++) framer.push(big);
    }).toThrow(/exceeded/);
  });
});
