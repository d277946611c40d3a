// The mock's streams against recorded streams of the real APIs: the same event sequence and, event by
// event, the same JSON shape (keys, their order and value types), so a client that parses one parses both.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SseParser, type SseEvent } from '../sse/index.js';
import { handleMockRequest, type MockSseReply } from './index.js';

function fixture(name: string): SseEvent[] {
  const p = new SseParser();
  return [...p.push(readFileSync(new URL(`../sse/fixtures/${name}`, import.meta.url))), ...p.end()];
}

function mockStream(path: string, body: Record<string, unknown>): SseEvent[] {
  const reply = handleMockRequest('POST', path, { ...body, stream: true }, { latencyMs: 0, outputTokens: 4 }) as MockSseReply;
  const p = new SseParser();
  return [...p.push(Buffer.from(reply.frames.join(''))), ...p.end()];
}

/** Key paths with value types, in order: `message.usage.input_tokens:number`. */
function shape(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return [`${path}:array`, ...(value.length > 0 ? shape(value[0], `${path}[]`) : [])];
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => shape(v, path ? `${path}.${k}` : k));
  return [`${path}:${value === null ? 'null' : typeof value}`];
}

/** The event-type sequence with runs of one type collapsed (streams differ in length, not in order). */
function sequence(events: SseEvent[]): string[] {
  const types = events.map((e) => e.event ?? (e.data === '[DONE]' ? '[DONE]' : (JSON.parse(e.data).object as string)));
  return types.filter((t, i) => t !== types[i - 1]);
}

function shapesByType(events: SseEvent[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const e of events) {
    if (e.data === '[DONE]') continue;
    const data = JSON.parse(e.data);
    const key = e.event ?? (data.choices?.length === 0 ? 'usage-chunk' : data.choices?.[0]?.finish_reason ? 'finish-chunk' : 'chunk');
    if (!out.has(key)) out.set(key, shape(data));
  }
  return out;
}

/**
 * The mock's Anthropic events as the recordings would hold them: the recordings predate `stop_details`, which the
 * API now sends in every message_delta's `delta` (null unless a refusal explains itself; the SDK's
 * RawMessageDeltaEvent.Delta declares it required), so it is dropped here when null and everything else compared.
 */
function asRecorded(events: SseEvent[]): SseEvent[] {
  return events.map((e) => {
    if (e.event !== 'message_delta') return e;
    const data = JSON.parse(e.data);
    if (data.delta?.stop_details !== null) return e;
    delete data.delta.stop_details;
    return { ...e, data: JSON.stringify(data) };
  });
}

const messages = [{ role: 'user', content: 'Hi' }];

describe('the mock speaks the recorded wire formats', () => {
  it('Anthropic Messages stream', () => {
    const real = fixture('anthropic-messages.sse');
    const mock = asRecorded(mockStream('/v1/messages', { model: 'claude-sonnet-4-20250514', max_tokens: 100, messages }));
    expect(sequence(mock)).toEqual(sequence(real));
    expect(shapesByType(mock)).toEqual(shapesByType(real));
  });

  it('Anthropic Messages stream with a tool call and cache reads', () => {
    const real = fixture('anthropic-messages-tool-use.sse');
    const tools = [{ name: 'get_weather', input_schema: { type: 'object', properties: { location: { type: 'string' } } } }];
    const mock = asRecorded(mockStream('/v1/messages', { model: 'claude-sonnet-4-20250514', max_tokens: 100, messages, tools, mock_tool_use: true, mock_cache_read_tokens: 1 }));
    expect(sequence(mock)).toEqual(sequence(real));
    // Each kind of event (by block and delta type) has one of the shapes the real stream has for it: the real
    // one sends two message_delta events, the first with the output count alone, the second cumulative.
    const kinds = (events: SseEvent[]): Map<string, string[]> => {
      const out = new Map<string, string[]>();
      for (const e of events) {
        const data = JSON.parse(e.data);
        const kind = `${e.event}:${data.content_block?.type ?? data.delta?.type ?? ''}`;
        out.set(kind, [...(out.get(kind) ?? []), shape(data).join()]);
      }
      return out;
    };
    const realKinds = kinds(real);
    for (const [kind, shapes] of kinds(mock)) {
      // Ids, names and texts differ; the keys, their order and their value types do not.
      for (const s of shapes) expect(realKinds.get(kind), kind).toContain(s);
    }
  });

  it('OpenAI Responses stream', () => {
    const real = fixture('openai-responses.sse');
    const mock = mockStream('/v1/responses', { model: 'gpt-4.1', input: 'Hi' });
    expect(sequence(mock)).toEqual(sequence(real));
    const realShapes = shapesByType(real);
    // The text deltas end with their `obfuscation` padding, as OpenAI's do by default.
    for (const [type, keys] of shapesByType(mock)) expect(keys, type).toEqual(realShapes.get(type));
  });

  it('OpenAI Responses stream with include_obfuscation: false has no obfuscation member', () => {
    const real = fixture('openai-responses.sse');
    const mock = mockStream('/v1/responses', { model: 'gpt-4.1', input: 'Hi', stream_options: { include_obfuscation: false } });
    const realShapes = shapesByType(real);
    for (const [type, keys] of shapesByType(mock)) expect(keys, type).toEqual(realShapes.get(type)!.filter((k) => !k.startsWith('obfuscation')));
  });

  // The chat fixtures are OpenAI's current format (a gpt-4o stream recorded in March 2026): `"usage":null`
  // (with include_usage) and then `"obfuscation"` end every chunk, the usage chunk included.
  it('OpenAI chat stream with include_usage', () => {
    const real = fixture('openai-chat-include-usage.sse');
    const mock = mockStream('/v1/chat/completions', { model: 'gpt-4o-mini', messages, stream_options: { include_usage: true } });
    expect(sequence(mock)).toEqual(sequence(real));
    expect(shapesByType(mock)).toEqual(shapesByType(real));
    expect(skeletons(mock)).toEqual(skeletons(real));
  });

  it('OpenAI chat stream without include_usage', () => {
    const real = fixture('openai-chat.sse');
    const mock = mockStream('/v1/chat/completions', { model: 'gpt-4o-mini', messages });
    expect(sequence(mock)).toEqual(sequence(real));
    expect(shapesByType(mock)).toEqual(shapesByType(real));
    expect(skeletons(mock)).toEqual(skeletons(real));
  });

  it('OpenAI chat stream with include_obfuscation: false', () => {
    const real = fixture('openai-chat-include-usage.sse');
    const mock = mockStream('/v1/chat/completions', { model: 'gpt-4o-mini', messages, stream_options: { include_usage: true, include_obfuscation: false } });
    const realShapes = shapesByType(real);
    for (const [type, keys] of shapesByType(mock)) expect(keys, type).toEqual(realShapes.get(type)!.filter((k) => !k.startsWith('obfuscation')));
    expect(mock.every((e) => !e.data.includes('obfuscation'))).toBe(true);
  });
});

/**
 * Each kind of chunk's JSON with every string and number value blanked, after checking that its text is the
 * compact serialisation (no spaces, as OpenAI writes it): the same bytes otherwise (key order, nulls), so the
 * relay's byte-level edits (chat-stream.ts) meet what OpenAI sends.
 */
function skeletons(events: SseEvent[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of events) {
    if (e.data === '[DONE]') continue;
    const data = JSON.parse(e.data);
    expect(e.data).toBe(JSON.stringify(data));
    const key = data.choices.length === 0 ? 'usage-chunk' : data.choices[0].finish_reason ? 'finish-chunk' : data.choices[0].delta.role ? 'role-chunk' : 'chunk';
    if (!out.has(key)) out.set(key, JSON.stringify(data, (_k, v: unknown) => (typeof v === 'string' ? '' : typeof v === 'number' ? 0 : v)));
  }
  return out;
}
