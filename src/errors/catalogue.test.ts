// The README's error table and the catalogue must list the same codes with the same statuses.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS } from './catalogue.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

function documentedErrors(): Map<string, number> {
  const section = readme.split(/^## Errors$/m)[1]?.split(/^## /m)[0] ?? '';
  const rows = new Map<string, number>();
  for (const m of section.matchAll(/^\|\s*`([a-z_]+)`\s*\|\s*(\d{3})\s*\|/gm)) rows.set(m[1], Number(m[2]));
  return rows;
}

describe('error catalogue', () => {
  it('every code in the catalogue is documented in the README with its status, and nothing else is', () => {
    const documented = documentedErrors();
    const catalogue = new Map(Object.entries(ERRORS).map(([code, e]) => [code, e.status]));
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(catalogue));
  });

  it('every message says what to do or what happened, in a full sentence', () => {
    for (const [code, entry] of Object.entries(ERRORS)) {
      const message = entry.message({ model: 'm', available: 'a', detail: 'The detail.', limit: 1, needed: 2, input: 1, output: 1, max: 1, label: 'l', unit: 'tokens', used: 1, remaining: 0, resetIn: '1s', resetAt: 'now', provider: 'p', timeoutMs: 1, method: 'GET', path: '/', requestId: 'r', seconds: 60, encoding: 'zstd', accepted: 'gzip', id: 'resp_1', allowed: 'POST' });
      expect(message, code).toMatch(/^[A-Z].*[.)]$/);
      expect(message, code).not.toContain('undefined');
    }
  });

  it('invalid_request passes the caller-facing detail through verbatim (its sentence is written at the call site)', () => {
    expect(ERRORS.invalid_request.message({ detail: "'messages' is required." })).toBe("'messages' is required.");
  });
});
