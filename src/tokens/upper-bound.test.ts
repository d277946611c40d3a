// Property test: on many random bodies, for every endpoint and model family, upperBound ≥ exact().
import { describe, expect, it } from 'vitest';
import { estimateInput, type Endpoint } from './index.js';
import { dataUrl, gif, jpeg, pdf, png, wav, webp } from './test-fixtures.js';
import { mulberry32 } from '../util/prng.js';

const MODELS = ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1-mini', 'o4-mini', 'gpt-4', 'o3', 'gpt-5', 'text-embedding-3-small', 'claude-3-5-sonnet-20241022', 'claude-opus-4-7', 'meta-llama/Llama-3.1-8B-Instruct', 'mistral-7b-instruct', 'who-knows'];
const ENDPOINTS: Endpoint[] = ['chat', 'completions', 'embeddings', 'responses', 'messages'];

function gen(r: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const int = (n: number) => Math.floor(r() * n);

  const char = (): string => {
    const k = r();
    if (k < 0.35) return String.fromCharCode(32 + int(95));
    if (k < 0.45) return pick([' ', '  ', '\n', '\t', '\r\n', '    ']);
    if (k < 0.55) return String.fromCodePoint(0x4e00 + int(0x5000)); // CJK
    if (k < 0.65) return pick(['👋🏽', '👨‍👩‍👧‍👦', '🇮🇹', '❤️‍🔥', '🧑🏿‍💻', '🙂']); // emoji, ZWJ sequences, flags
    if (k < 0.72) return String.fromCodePoint(0x10000 + int(0xfffff)); // astral: surrogate pairs
    if (k < 0.76) return String.fromCharCode(0xd800 + int(0x800)); // lone surrogate
    if (k < 0.8) return pick(['<|endoftext|>', '<|im_start|>', '<|fim_prefix|>', '<|endofprompt|>']);
    if (k < 0.9) return pick(['the', ' token', ' gateway', 'ing', '()', '=>', '{"a":1}', '1234567890']);
    return String.fromCodePoint(int(0xd7ff));
  };
  const str = (): string => {
    const k = r();
    // 1 string in 100 long (5,000-25,000 chars), 2 in 100 until 12-07: counting their tokens exactly was most
    // of the file's 16 s, and a text leaf's bound (its UTF-8 bytes) holds at any length. The 600 bodies still
    // hold 44 long strings (95 before), and 37 are over count-cache.ts's 32 KB (49 before).
    const len = k < 0.1 ? 0 : k < 0.9 ? int(80) : k < 0.99 ? int(2000) : 5000 + int(20000);
    let s = '';
    for (let i = 0; i < len; i++) s += char();
    return s;
  };
  const dims = () => [1 + int(5000), 1 + int(5000)] as const;
  const imageUrl = (): string => {
    const [w, h] = dims();
    switch (int(9)) {
      case 0: return dataUrl('image/png', png(w, h, false));
      case 1: return dataUrl('image/jpeg', jpeg(w, h, int(3) * 70_000));
      case 2: return dataUrl('image/gif', gif(Math.min(w, 65535), Math.min(h, 65535)));
      case 3: return dataUrl('image/webp', webp(Math.min(w, 16383), Math.min(h, 16383), pick(['VP8 ', 'VP8L', 'VP8X'] as const)));
      case 4: return 'https://example.com/' + str();
      case 5: return 'data:image/png;base64,' + png(w, h, false).toString('base64').replace(/.{20}/g, '$&\n');
      case 6: return 'data:image/jpeg;base64,' + Buffer.from(str()).toString('base64');
      case 7: return 'data:image/png,' + str();
      default: return str();
    }
  };
  const detail = () => pick(['low', 'high', 'auto', undefined, 'original', 7]);
  const audio = () => pick([wav(pick([8000, 16_000, 32_000, 1, 4_000_000]), r() * 3).toString('base64'), Buffer.from(str()).toString('base64'), str(), 'data:audio/wav;base64,' + wav(32_000, 0.5).toString('base64')]);
  const file = () => pick([dataUrl('application/pdf', pdf(int(6))), pdf(1 + int(4)).toString('base64'), Buffer.from(str()).toString('base64'), Buffer.from([0, 1, 2, 255, 254]).toString('base64'), str(), undefined]);
  const json = (d = 0): unknown => {
    const k = r();
    if (d > 3 || k < 0.3) return str();
    if (k < 0.4) return int(1000);
    if (k < 0.45) return pick([null, true, false]);
    if (k < 0.7) return Array.from({ length: int(4) }, () => json(d + 1));
    return Object.fromEntries(Array.from({ length: int(4) }, () => [pick(['type', 'enum', 'properties', 'description', str()]), k < 0.8 ? Array.from({ length: int(5) }, str) : json(d + 1)]));
  };
  const anything = (): unknown => (r() < 0.8 ? str() : json());

  const chatPart = (): unknown => {
    switch (int(9)) {
      case 0: case 1: case 2: return { type: 'text', text: anything() };
      case 3: return { type: 'image_url', image_url: r() < 0.9 ? { url: imageUrl(), detail: detail() } : imageUrl() };
      case 4: return { type: 'input_audio', input_audio: { data: audio(), format: pick(['wav', 'mp3']) } };
      case 5: return { type: 'file', file: r() < 0.7 ? { file_data: file(), filename: 'a.pdf' } : { file_id: 'file-1' } };
      case 6: return { type: 'refusal', refusal: str() };
      case 7: return json();
      default: return str();
    }
  };
  const content = () => (r() < 0.5 ? anything() : Array.from({ length: int(5) }, chatPart));
  const tools = () => Array.from({ length: int(4) }, () => ({ type: 'function', function: { name: str(), description: str(), parameters: json() } }));
  const chatMessage = () => ({
    role: pick(['system', 'user', 'assistant', 'tool', 'developer', 'function', str()]),
    content: content(),
    ...(r() < 0.2 ? { name: str() } : {}),
    ...(r() < 0.2 ? { tool_calls: Array.from({ length: 1 + int(3) }, () => ({ id: str(), type: 'function', function: { name: str(), arguments: anything() } })) } : {}),
    ...(r() < 0.05 ? { function_call: { name: str(), arguments: str() } } : {}),
    ...(r() < 0.05 ? { refusal: str() } : {}),
  });
  const responsesItem = (): unknown => {
    switch (int(8)) {
      case 0: case 1: return { role: pick(['user', 'assistant', 'system']), content: r() < 0.5 ? str() : Array.from({ length: int(4) }, () => pick([{ type: 'input_text', text: str() }, { type: 'output_text', text: str() }, { type: 'input_image', image_url: imageUrl(), detail: detail() }, { type: 'input_file', file_data: file() }, { type: 'input_file', file_id: 'f' }, json()])) };
      case 2: return { type: 'function_call', call_id: 'c', name: str(), arguments: anything() };
      case 3: return { type: 'function_call_output', call_id: 'c', output: anything() };
      case 4: return { type: 'reasoning', summary: [{ type: 'summary_text', text: str() }], encrypted_content: str() };
      case 5: return { type: 'computer_call_output', output: { type: 'computer_screenshot', image_url: imageUrl() } };
      default: return json();
    }
  };
  const anthropicBlock = (): unknown => {
    switch (int(10)) {
      case 0: case 1: return { type: 'text', text: anything() };
      case 2: return { type: 'image', source: r() < 0.7 ? { type: 'base64', media_type: 'image/png', data: (dataUrl('x', png(...dims(), false)).split(',')[1]) } : { type: 'url', url: imageUrl() } };
      case 3: return { type: 'document', source: pick([{ type: 'base64', media_type: 'application/pdf', data: pdf(int(4)).toString('base64') }, { type: 'text', media_type: 'text/plain', data: str() }, { type: 'url', url: str() }, { type: 'content', content: [{ type: 'text', text: str() }] }]), title: str() };
      case 4: return { type: 'tool_use', id: 't', name: str(), input: json() };
      case 5: return { type: 'tool_result', tool_use_id: 't', content: r() < 0.5 ? str() : [{ type: 'text', text: str() }, { type: 'image', source: { type: 'url', url: imageUrl() } }] };
      case 6: return { type: 'thinking', thinking: str(), signature: str() };
      case 7: return { type: 'redacted_thinking', data: str() };
      default: return json();
    }
  };
  const prompt = (): unknown => pick([str(), Array.from({ length: int(4) }, str), Array.from({ length: int(50) }, () => int(100_000)), Array.from({ length: int(3) }, () => Array.from({ length: int(20) }, () => int(1000))), json()]);

  return (endpoint: Endpoint): Record<string, unknown> => {
    switch (endpoint) {
      case 'chat':
        return { messages: Array.from({ length: int(6) }, chatMessage), ...(r() < 0.3 ? { tools: tools() } : {}), ...(r() < 0.1 ? { functions: tools().map((t) => t.function) } : {}), ...(r() < 0.2 ? { response_format: { type: 'json_schema', json_schema: json() } } : {}) };
      case 'completions':
        return { prompt: prompt(), ...(r() < 0.3 ? { suffix: str() } : {}), n: int(4) };
      case 'embeddings':
        return { input: prompt() };
      case 'responses':
        return { input: r() < 0.3 ? str() : Array.from({ length: int(6) }, responsesItem), ...(r() < 0.5 ? { instructions: str() } : {}), ...(r() < 0.3 ? { tools: tools() } : {}), ...(r() < 0.2 ? { text: { format: json() } } : {}) };
      default:
        return {
          system: r() < 0.5 ? str() : [{ type: 'text', text: str() }],
          messages: Array.from({ length: int(6) }, () => ({ role: pick(['user', 'assistant']), content: r() < 0.4 ? str() : Array.from({ length: int(4) }, anthropicBlock) })),
          ...(r() < 0.3 ? { tools: [{ name: str(), input_schema: json() }, ...(r() < 0.3 ? [{ type: 'bash_20250124', name: 'bash' }] : [])] } : {}),
        };
    }
  };
}

describe('upperBound is never below exact()', () => {
  it.each([1, 2, 3, 4])('random bodies, seed %i', (seed) => {
    const r = mulberry32(seed);
    const body = gen(r);
    for (let i = 0; i < 150; i++) {
      const endpoint = ENDPOINTS[i % ENDPOINTS.length];
      const model = MODELS[Math.floor(r() * MODELS.length)];
      const b = body(endpoint);
      const e = estimateInput(endpoint, b, model);
      const exact = e.exact();
      expect(Number.isInteger(exact) && exact >= 0, `exact ${exact}`).toBe(true);
      expect(Number.isInteger(e.upperBound), `bound ${e.upperBound}`).toBe(true);
      if (e.upperBound < exact) throw new Error(`bound ${e.upperBound} < exact ${exact} for ${endpoint} ${model}: ${JSON.stringify(b).slice(0, 2000)}`);
    }
  });
});
