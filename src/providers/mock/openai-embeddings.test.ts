// The mock's /v1/embeddings: vectors as floats or base64, their dimensions, and what it refuses.
import { describe, expect, it } from 'vitest';
import { estimateInput } from '../../tokens/index.js';
import { json, opts, post } from './test-fixtures.js';

describe('embeddings', () => {
  it('returns float vectors of the requested dimension', () => {
    const body = { model: 'text-embedding-3-small', input: ['alpha', 'beta'], dimensions: 8 };
    const { body: res } = json(post('/v1/embeddings', body));
    expect(Object.keys(res)).toEqual(['object', 'data', 'model', 'usage']);
    expect(res.data.map((d: any) => Object.keys(d))).toEqual([['object', 'index', 'embedding'], ['object', 'index', 'embedding']]);
    expect(res.data[0].embedding).toHaveLength(8);
    const norm = Math.hypot(...res.data[0].embedding);
    expect(norm).toBeCloseTo(1, 5);
    const prompt = estimateInput('embeddings', body, body.model).exact();
    expect(res.usage).toEqual({ prompt_tokens: prompt, total_tokens: prompt });
  });

  it('encodes base64 as little-endian float32 equal to the float form', () => {
    const base = { model: 'e', input: 'same text' };
    const floats = json(post('/v1/embeddings', base)).body.data[0].embedding as number[];
    const b64 = json(post('/v1/embeddings', { ...base, encoding_format: 'base64' })).body.data[0].embedding as string;
    const buf = Buffer.from(b64, 'base64');
    expect(buf.length).toBe(1536 * 4);
    const decoded = Array.from({ length: 1536 }, (_, i) => buf.readFloatLE(i * 4));
    expect(decoded).toEqual(floats.map((f) => Math.fround(f)));
  });

  it('uses embeddingDimensions from the options and treats a token array as one input', () => {
    const res = json(post('/v1/embeddings', { model: 'e', input: [1, 2, 3] }, { ...opts, embeddingDimensions: 4 })).body;
    expect(res.data).toHaveLength(1);
    expect(res.data[0].embedding).toHaveLength(4);
  });

  it('rejects an unknown encoding_format', () => {
    expect(json(post('/v1/embeddings', { model: 'e', input: 'x', encoding_format: 'hex' })).status).toBe(400);
  });
});
