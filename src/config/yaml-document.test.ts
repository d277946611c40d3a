import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { parseYamlDocument } from './yaml-document.js';

// What the library reports with its own check, for comparison.
function withUniqueKeys(text: string) {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  return { errors: doc.errors.map((e) => ({ code: e.code, message: e.message, pos: e.pos })), value: doc.toJS() as unknown };
}

function parsed(text: string) {
  const { doc } = parseYamlDocument(text);
  return { errors: doc.errors.map((e) => ({ code: e.code, message: e.message, pos: e.pos })), value: doc.toJS() as unknown };
}

/** CPU milliseconds parseYamlDocument takes on `text` (the least of two runs: other tests share the CPU). */
function parseCpuMs(text: string): number {
  let least = Infinity;
  for (let i = 0; i < 2; i++) {
    const before = process.cpuUsage();
    parseYamlDocument(text);
    const used = process.cpuUsage(before);
    least = Math.min(least, (used.user + used.system) / 1000);
  }
  return least;
}

describe('parseYamlDocument', () => {
  it.each([
    ['no repeated key', 'a: 1\nb: {c: 2, d: 3}\nlist: [{e: 1}, {e: 2}]\n'],
    ['a repeated key', 'projects:\n  p: {daily_limit: 1}\n  q: {daily_limit: 2}\n  p: {daily_limit: 3}\n'],
    ['a repeated key in a flow mapping', 'server: {port: 1, host: a, port: 2}\n'],
    ['a repeated key deep in a list', 'keys:\n  - id: a\n    user: u\n    id: b\n'],
    ['two merge keys', 'x-a: &a {p: 1}\nx-b: &b {q: 1}\nm:\n  <<: *a\n  <<: *b\n'],
    ['a repeated key beside a syntax error', 'a: 1\na: 2\nb: [1, 2\n'],
    ['a number and a text that look alike (no repeat)', 'pricing:\n  1: {input: 1}\n  "1": {input: 2}\n'],
    ['a repeated number', 'pricing:\n  1.5: {input: 1}\n  1.5: {input: 2}\n'],
  ])('reports what the library does: %s', (_name, text) => {
    expect(parsed(text)).toEqual(withUniqueKeys(text));
  });

  it('reads the lines of the document it returns', () => {
    const { doc, lines } = parseYamlDocument('a: 1\nb: 2\nb: 3\n');
    const error = doc.errors[0]!;
    expect(error.code).toBe('DUPLICATE_KEY');
    expect(lines.linePos(error.pos[0]).line).toBe(3);
  });

  // Regression test from a measurement: the library's check compared each key of a mapping with every key
  // before it, so a mapping of 20,000 groups took 3.7 s to parse, the same entries as a list 0.65 s (10,000: 4.5 times as long).
  it('parses a mapping of 10,000 entries in about the time of a list of them', () => {
    const mapping = `groups:\n${Array.from({ length: 10_000 }, (_, i) => `  group-${i}: {daily_limit: 1000}`).join('\n')}\n`;
    const list = `groups:\n${Array.from({ length: 10_000 }, (_, i) => `  - {group-${i}: {daily_limit: 1000}}`).join('\n')}\n`;
    parseYamlDocument(list); // warms the parser up
    expect(parseCpuMs(mapping) / parseCpuMs(list)).toBeLessThan(2);
  });
});
