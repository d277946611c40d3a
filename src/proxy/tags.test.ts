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
});
