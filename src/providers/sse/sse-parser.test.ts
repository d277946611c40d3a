import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeSseEvent, SseParser, type SseEvent } from './index.js';
import { mulberry32 } from '../../util/prng.js';

const enc = new TextEncoder();
const fixture = (name: string): Buffer => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));

function parseWhole(bytes: Uint8Array, lenient = false): SseEvent[] {
  const p = new SseParser({ dispatchIncompleteAtEnd: lenient });
  return [...p.push(bytes), ...p.end()];
}

function parseSplit(bytes: Uint8Array, cuts: number[], lenient = false): SseEvent[] {
  const p = new SseParser({ dispatchIncompleteAtEnd: lenient });
  const out: SseEvent[] = [];
  let prev = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(...p.push(bytes.subarray(prev, cut)));
    prev = cut;
  }
  out.push(...p.end());
  return out;
}

// Deterministic PRNG so a failing fuzz case can be replayed from its seed.
function randomCuts(rand: () => number, length: number): number[] {
  const n = Math.floor(rand() * Math.min(length, 40));
  const cuts = new Set<number>();
  for (let i = 0; i < n; i++) cuts.add(Math.floor(rand() * (length + 1)));
  return [...cuts].sort((a, b) => a - b);
}

describe('SseParser on recorded stream shapes', () => {
  it('parses an OpenAI chat stream with include_usage', () => {
    const events = parseWhole(fixture('openai-chat-include-usage.sse'));
    expect(events).toHaveLength(7);
    expect(events.every((e) => e.event === undefined && e.id === undefined)).toBe(true);
    expect(JSON.parse(events[1]!.data).choices[0].delta.content).toBe('Grüß');
    expect(JSON.parse(events[3]!.data).choices[0].delta.content).toBe(' 🌍');
    const usage = JSON.parse(events[5]!.data);
    expect(usage.choices).toEqual([]);
    expect(usage.usage.total_tokens).toBe(15);
    expect(events[6]).toEqual({ data: '[DONE]' });
  });

  it('parses an Anthropic stream with event names', () => {
    const events = parseWhole(fixture('anthropic-messages.sse'));
    expect(events.map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    for (const e of events) expect(JSON.parse(e.data).type).toBe(e.event);
    expect(JSON.parse(events[6]!.data).usage.output_tokens).toBe(4);
  });

  it('gives the same events when a fixture arrives one byte at a time', () => {
    for (const name of ['openai-chat-include-usage.sse', 'anthropic-messages.sse']) {
      const bytes = fixture(name);
      const cuts = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
      expect(parseSplit(bytes, cuts)).toEqual(parseWhole(bytes));
    }
  });
});

describe('SseParser framing rules', () => {
  it('accepts CRLF, CR and LF line endings, mixed', () => {
    const text = 'event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\rdata: 3\n\n';
    expect(parseWhole(enc.encode(text))).toEqual([
      { event: 'a', data: '1' },
      { event: 'b', data: '2' },
      { data: '3' },
    ]);
  });

  it('treats a CR ending one chunk and an LF starting the next as one line end', () => {
    const p = new SseParser();
    expect(p.push(enc.encode('data: x\r'))).toEqual([]);
    // If the LF were a second line end it would be a blank line and dispatch here.
    expect(p.push(enc.encode('\ndata: y\r'))).toEqual([]);
    expect(p.push(enc.encode('\n\r\n'))).toEqual([{ data: 'x\ny' }]);
  });

  it('keeps waiting for the LF of a CRLF across chunks that decode to nothing', () => {
    const p = new SseParser();
    p.push(enc.encode('data: x\r'));
    expect(p.push(new Uint8Array(0))).toEqual([]);
    expect(p.push(enc.encode('\ndata: y\n\n'))).toEqual([{ data: 'x\ny' }]);
  });

  it('ignores comment lines such as keep-alive pings', () => {
    const text = ': ping\n\n:\ndata: {"a":1}\n: in the middle\n\n';
    expect(parseWhole(enc.encode(text))).toEqual([{ data: '{"a":1}' }]);
  });

  it('joins multi-line data with LF', () => {
    expect(parseWhole(enc.encode('data: line one\ndata:line two\ndata\ndata:  indented\n\n'))).toEqual([
      { data: 'line one\nline two\n\n indented' },
    ]);
  });

  it('removes exactly one leading space after the colon', () => {
    expect(parseWhole(enc.encode('data:   x  \n\n'))).toEqual([{ data: '  x  ' }]);
    expect(parseWhole(enc.encode('event:x\ndata:\n\n'))).toEqual([{ event: 'x', data: '' }]);
  });

  it('treats a line without a colon as a field with an empty value', () => {
    expect(parseWhole(enc.encode('event\ndata\n\n'))).toEqual([{ data: '' }]);
    expect(parseWhole(enc.encode('event: a\nevent\ndata: z\n\n'))).toEqual([{ data: 'z' }]);
  });

  it('does not dispatch data-less events, and resets their event type', () => {
    expect(parseWhole(enc.encode('event: lonely\n\ndata: after\n\n'))).toEqual([{ data: 'after' }]);
    expect(parseWhole(enc.encode('\n\n\n: only comments\n\n'))).toEqual([]);
  });

  it('strips one leading BOM, even split across chunks', () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...enc.encode('data: a\n\n')]);
    expect(parseSplit(bytes, [1, 2])).toEqual([{ data: 'a' }]);
    // A second BOM is content: the field name no longer matches "data".
    const two = new Uint8Array([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf, ...enc.encode('data: a\n\n')]);
    expect(parseWhole(two)).toEqual([]);
  });

  it('decodes multi-byte characters split at every byte', () => {
    const bytes = enc.encode('data: 日本語 🎉 ü\n\n');
    const cuts = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
    expect(parseSplit(bytes, cuts)).toEqual([{ data: '日本語 🎉 ü' }]);
  });

  it('keeps the last event id across events and ignores ids containing NUL', () => {
    const text = 'id: 7\ndata: a\n\ndata: b\n\nid: 8\u0000\ndata: c\n\nid\ndata: d\n\n';
    expect(parseWhole(enc.encode(text))).toEqual([
      { data: 'a', id: '7' },
      { data: 'b', id: '7' },
      { data: 'c', id: '7' },
      { data: 'd' },
    ]);
  });

  it('ignores retry and unknown fields, and field names are case-sensitive', () => {
    expect(parseWhole(enc.encode('retry: 100\nfoo: bar\nData: no\ndata: yes\n\n'))).toEqual([{ data: 'yes' }]);
  });

  it('discards an unterminated final event by default, but can dispatch it leniently', () => {
    const bytes = enc.encode('data: done\n\ndata: {"usage":1}\n');
    expect(parseWhole(bytes)).toEqual([{ data: 'done' }]);
    expect(parseWhole(bytes, true)).toEqual([{ data: 'done' }, { data: '{"usage":1}' }]);
    expect(parseWhole(enc.encode('data: a\n\ndata: tail'), true)).toEqual([{ data: 'a' }, { data: 'tail' }]);
  });

  it('can be reused after end()', () => {
    const p = new SseParser();
    p.push(enc.encode('id: 1\ndata: partial'));
    expect(p.end()).toEqual([]);
    expect([...p.push(enc.encode('data: fresh\n\n')), ...p.end()]).toEqual([{ data: 'fresh' }]);
  });

  it('returns no events for a chunk that completes none', () => {
    const p = new SseParser();
    expect(p.push(enc.encode('data: {"partial":'))).toEqual([]);
    expect(p.push(enc.encode('true}\n\n'))).toEqual([{ data: '{"partial":true}' }]);
  });
});

describe('encodeSseEvent', () => {
  it('writes OpenAI and Anthropic frames', () => {
    expect(encodeSseEvent({ data: '[DONE]' })).toBe('data: [DONE]\n\n');
    expect(encodeSseEvent({ event: 'ping', data: '{"type": "ping"}' })).toBe('event: ping\ndata: {"type": "ping"}\n\n');
  });

  it('splits multi-line data into several data lines that parse back', () => {
    const frame = encodeSseEvent({ event: 'e', id: '3', data: 'a\r\nb\rc\nd' });
    expect(frame).toBe('event: e\nid: 3\ndata: a\ndata: b\ndata: c\ndata: d\n\n');
    expect(parseWhole(enc.encode(frame))).toEqual([{ event: 'e', id: '3', data: 'a\nb\nc\nd' }]);
  });

  it('cannot be tricked into injecting fields through the event name', () => {
    expect(encodeSseEvent({ event: 'x\ndata: evil', data: 'ok' })).toBe('event: xdata: evil\ndata: ok\n\n');
  });
});

// ---- property tests ---------------------------------------------------------------------------

const ALPHABET = ['a', 'b', 'z', ' ', ':', '{', '"', '}', 'é', 'ß', '日', '🎉', '\u2028', '\t', '\u0000', '\ufeff'];

function randomText(rand: () => number, max: number): string {
  let s = '';
  const n = Math.floor(rand() * max);
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(rand() * ALPHABET.length)];
  return s;
}

interface Generated {
  bytes: Uint8Array;
  expected: SseEvent[];
}

// Builds a random but valid stream together with the events the spec says it carries.
function randomStream(rand: () => number): Generated {
  const lines: string[] = [];
  const expected: SseEvent[] = [];
  let lastId = '';
  const events = Math.floor(rand() * 8);
  for (let e = 0; e < events; e++) {
    if (rand() < 0.3) lines.push(':' + randomText(rand, 10));
    let type = '';
    if (rand() < 0.5) {
      type = 'evt' + randomText(rand, 4).replace(/[\r\n]/g, '');
      lines.push((rand() < 0.5 ? 'event: ' : 'event:') + type);
    }
    if (rand() < 0.2) {
      const id = randomText(rand, 5);
      lines.push('id: ' + id);
      if (!id.includes('\0')) lastId = id;
    }
    if (rand() < 0.1) lines.push('retry: ' + Math.floor(rand() * 1000));
    const dataLines = Math.floor(rand() * 4); // zero data lines: the event must not be dispatched
    const values: string[] = [];
    for (let d = 0; d < dataLines; d++) {
      if (rand() < 0.1) {
        lines.push('data');
        values.push('');
        continue;
      }
      const raw = randomText(rand, 30);
      lines.push('data:' + raw);
      values.push(raw.startsWith(' ') ? raw.slice(1) : raw);
    }
    lines.push('');
    if (dataLines > 0) {
      const ev: SseEvent = { data: values.join('\n') };
      if (type) ev.event = type;
      if (lastId) ev.id = lastId;
      expected.push(ev);
    }
  }
  let text = rand() < 0.2 ? '\ufeff' : '';
  let prevEnding = '';
  for (const line of lines) {
    let ending = ['\n', '\r', '\r\n'][Math.floor(rand() * 3)]!;
    // "\r" then a blank line ended by "\n" would read as one CRLF, swallowing the blank line.
    if (prevEnding === '\r' && line === '' && ending === '\n') ending = '\r\n';
    text += line + ending;
    prevEnding = ending;
  }
  if (rand() < 0.2) text += 'data: never terminated';
  return { bytes: enc.encode(text), expected };
}

describe('SseParser properties', () => {
  it('500 random streams split at random byte offsets parse to the same events as the whole buffer', () => {
    const rand = mulberry32(0x5ee);
    for (let i = 0; i < 500; i++) {
      const { bytes, expected } = randomStream(rand);
      const whole = parseWhole(bytes);
      expect(whole, `stream #${i}`).toEqual(expected);
      expect(parseSplit(bytes, randomCuts(rand, bytes.length)), `stream #${i}`).toEqual(whole);
    }
  });

  it('never throws on random garbage bytes, and stays split-invariant', () => {
    const rand = mulberry32(0xbad);
    // Weight the bytes that matter to the grammar so garbage still exercises every branch.
    const special = [0x0a, 0x0d, 0x3a, 0x20, 0x64, 0x61, 0x74, 0xef, 0xbb, 0xbf, 0xc3, 0xf0, 0x9f, 0x00];
    for (let i = 0; i < 300; i++) {
      const bytes = new Uint8Array(Math.floor(rand() * 400));
      for (let j = 0; j < bytes.length; j++) {
        bytes[j] = rand() < 0.5 ? special[Math.floor(rand() * special.length)]! : Math.floor(rand() * 256);
      }
      const whole = parseWhole(bytes);
      expect(parseSplit(bytes, randomCuts(rand, bytes.length))).toEqual(whole);
      expect(parseSplit(bytes, randomCuts(rand, bytes.length), true)).toEqual(parseWhole(bytes, true));
    }
  });
});
