import { describe, expect, it } from 'vitest';
import { interpolate } from './interpolate.js';

describe('interpolate', () => {
  it('substitutes a set variable', () => {
    expect(interpolate('Bearer ${TOKEN}', { TOKEN: 'abc' })).toEqual({ value: 'Bearer abc', substituted: true, missing: [], malformed: [], nested: [], fromEnv: ['abc'] });
  });

  it('uses the default when the variable is unset or empty', () => {
    expect(interpolate('${HOST:-127.0.0.1}', {}).value).toBe('127.0.0.1');
    expect(interpolate('${HOST:-127.0.0.1}', { HOST: '' }).value).toBe('127.0.0.1');
    expect(interpolate('${HOST:-127.0.0.1}', { HOST: '0.0.0.0' }).value).toBe('0.0.0.0');
  });

  it('gives an empty value for an empty default', () => {
    expect(interpolate('${OPTIONAL:-}', {})).toMatchObject({ value: '', substituted: true, missing: [] });
  });

  it('reports an unset variable without a default', () => {
    expect(interpolate('${NOPE}', {}).missing).toEqual(['NOPE']);
  });

  it('keeps a set but empty variable without default as empty, not missing', () => {
    expect(interpolate('${EMPTY}', { EMPTY: '' })).toMatchObject({ value: '', missing: [] });
  });

  it('substitutes several variables in one string', () => {
    expect(interpolate('redis://${H}:${P:-6379}/0', { H: 'cache' }).value).toBe('redis://cache:6379/0');
  });

  it('treats $${ as a literal ${', () => {
    expect(interpolate('price: $${NOT_A_VAR}', {})).toMatchObject({ value: 'price: ${NOT_A_VAR}', substituted: false, missing: [] });
  });

  it('reports malformed and unterminated expressions', () => {
    expect(interpolate('${1BAD}', {}).malformed).toEqual(['${1BAD}']);
    expect(interpolate('abc ${OPEN', {}).malformed).toEqual(['${']);
  });

  it('reports a nested expression whole, whatever is set, instead of taking the inner one as the default text', () => {
    for (const env of [{}, { A: 'a' }, { B: 'b' }]) {
      expect(interpolate('${A:-${B}}', env)).toMatchObject({ nested: ['${A:-${B}}'], missing: [], malformed: [] });
    }
    expect(interpolate('x ${A:-pre${B:-d}post} y', {}).nested).toEqual(['${A:-pre${B:-d}post}']);
    expect(interpolate('${A:-$${B}}', {}).nested).toEqual(['${A:-$${B}}']);
  });

  it('reads a long run of unclosed `${` in reasonable time', () => {
    const started = Date.now();
    expect(interpolate('${A:-' + '${'.repeat(4000), {}).malformed.length).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('still reads two expressions side by side and a brace after one', () => {
    expect(interpolate('${A}${B:-2}}', { A: '1' })).toMatchObject({ value: '12}', nested: [], malformed: [] });
  });

  it('leaves plain strings and lone dollars alone', () => {
    expect(interpolate('costs $5', {})).toMatchObject({ value: 'costs $5', substituted: false });
  });
});
