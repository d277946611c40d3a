import { describe, expect, it } from 'vitest';
import { readTags } from './tags.js';
import { TollgateError } from '../errors/tollgate-error.js';

describe('readTags', () => {
  it('merges metadata and the header, the header winning', () => {
    expect(readTags('feature=search, env=staging', { env: 'prod', team: 'ml' })).toEqual({ env: 'staging', team: 'ml', feature: 'search' });
    expect(readTags(undefined, undefined)).toEqual({});
    expect(readTags('a=x=y', null)).toEqual({ a: 'x=y' });
  });

  it('refuses malformed, oversized or too many tags with a 400', () => {
    const bad = (h: string | undefined, m?: unknown) => {
      try {
        readTags(h, m);
      } catch (e) {
        return e as TollgateError;
      }
      throw new Error('accepted');
    };
    expect(bad('novalue').status).toBe(400);
    expect(bad('sp ace=1').message).toContain("tag key 'sp ace'");
    expect(bad(undefined, { k: 1 }).message).toContain("'metadata.k' must be a string");
    expect(bad(undefined, ['x']).status).toBe(400);
    expect(bad(`k=${'v'.repeat(300)}`).message).toContain('at most 256');
    expect(bad('k=a\u0001b').status).toBe(400);
    expect(bad(Array.from({ length: 17 }, (_, i) => `t${i}=v`).join(',')).message).toContain('at most 16 tags');
  });

  it("accepts metadata up to OpenAI's limits exactly: 16 pairs, 64-character keys, 512-character values", () => {
    const bad = (m: unknown, h?: string): TollgateError => {
      try {
        readTags(h, m);
      } catch (e) {
        return e as TollgateError;
      }
      throw new Error('accepted');
    };
    const v512 = 'v'.repeat(512);
    const k64 = 'k'.repeat(64);
    expect(readTags(undefined, { note: v512 })).toEqual({ note: v512 });
    expect(readTags(undefined, { [k64]: 'x' })).toEqual({ [k64]: 'x' });
    // OpenAI counts characters, not UTF-16 units: 512 emoji are a valid value.
    expect(readTags(undefined, { e: '\u{1F600}'.repeat(512) }).e).toHaveLength(1024);
    const sixteen = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`m${i}`, 'v']));
    expect(Object.keys(readTags(undefined, sixteen))).toHaveLength(16);
    // The header has its own 16: a full metadata object plus header tags is not refused.
    expect(Object.keys(readTags('env=prod,team=ml', sixteen))).toHaveLength(18);
    // Any key OpenAI takes is taken (spaces, colons, non-ASCII); control characters are recorded as spaces.
    expect(readTags(undefined, { 'customer id': 'a', 'org:team': 'b', 'région': 'c', line: 'x\ny' })).toEqual({ 'customer id': 'a', 'org:team': 'b', 'région': 'c', line: 'x y' });
    // Anthropic's metadata.user_id may be null.
    expect(readTags(undefined, { user_id: null })).toEqual({});

    const over = bad({ note: 'v'.repeat(513) });
    expect(over.status).toBe(400);
    expect(over.message).toBe("metadata: the value of 'note' must be at most 512 characters (it has 513).");
    expect(bad({ ['k'.repeat(65)]: 'x' }).message).toContain('longer than 64 characters');
    const seventeen = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`m${i}`, 'v']));
    expect(bad(seventeen).message).toContain('at most 16 key-value pairs (it has 17)');
    // The header keeps its own limits.
    expect(bad(undefined, `k=${'v'.repeat(257)}`).message).toContain('at most 256 printable characters');
  });

  it('keeps a tag named __proto__ (or constructor) as a tag of its own, changing no object', () => {
    const tags = readTags('__proto__=team-a,constructor=b', JSON.parse('{"__proto__": "meta", "toString": "c"}'));
    expect(Object.entries(tags)).toEqual([
      ['__proto__', 'team-a'],
      ['toString', 'c'],
      ['constructor', 'b'],
    ]);
    expect(JSON.parse(JSON.stringify(tags))).toEqual(tags);
    expect(Object.getPrototypeOf(tags)).toBe(Object.prototype);
  });
});
