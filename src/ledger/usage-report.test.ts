import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DIMENSIONS } from './ledger.js';
import { parseDimensions, parseTime } from './usage-report.js';

const NOW = Date.UTC(2026, 11, 5, 10, 30);

describe('parseTime (tollgate usage --since / --until)', () => {
  it('reads durations ago, calendar words, dates and ISO date-times', () => {
    expect(parseTime('7d', NOW, 'UTC')).toBe(NOW - 7 * 86_400_000);
    expect(parseTime('today', NOW, 'Europe/Paris')).toBe(Date.UTC(2026, 11, 4, 23));
    expect(parseTime('2026-12-01', NOW, 'UTC')).toBe(Date.UTC(2026, 11, 1));
    expect(parseTime('2026-12-01T08:15:00Z', NOW, 'UTC')).toBe(Date.UTC(2026, 11, 1, 8, 15));
    expect(parseTime('2026-12-01 08:15+01:00', NOW, 'UTC')).toBe(Date.UTC(2026, 11, 1, 7, 15));
    expect(parseTime('2026-12-01T08:15:00.250Z', NOW, 'UTC')).toBe(Date.UTC(2026, 11, 1, 8, 15, 0, 250));
  });

  // Regression: a zoneless date-time was read in the process's zone, while dates (and the limits' days)
  // are those of server.timezone, so `--since 2026-12-01T00:00` and `--since 2026-12-01` differed.
  it('reads a date-time without a zone as a wall-clock time in the report\'s time zone', () => {
    expect(parseTime('2026-12-01T00:00', NOW, 'America/New_York')).toBe(parseTime('2026-12-01', NOW, 'America/New_York'));
    expect(parseTime('2026-12-01T00:00', NOW, 'America/New_York')).toBe(Date.UTC(2026, 11, 1, 5));
    expect(parseTime('2026-07-01 08:15:30.5', NOW, 'America/New_York')).toBe(Date.UTC(2026, 6, 1, 12, 15, 30, 500));
    expect(parseTime('2026-12-01T08:15', NOW, 'UTC')).toBe(Date.UTC(2026, 11, 1, 8, 15));
    // An explicit zone is kept, whatever the report's.
    expect(parseTime('2026-12-01T08:15Z', NOW, 'America/New_York')).toBe(Date.UTC(2026, 11, 1, 8, 15));
    expect(parseTime('2026-12-01T08:15-03:00', NOW, 'Asia/Tokyo')).toBe(Date.UTC(2026, 11, 1, 11, 15));
    expect(() => parseTime('2026-12-01T25:00', NOW, 'America/New_York')).toThrow(/^cannot read time/);
  });

  // Regression (QA): anything else went to Date.parse, which reads most text as some date.
  it('refuses what is not one of those, instead of guessing a date', () => {
    for (const text of ['Jul 7', '1 2', 'Tue, 01 Dec 2026 10:00:00 GMT', '2026/12/01', 'December 1', '2026-12-01T8:15']) {
      expect(() => parseTime(text, NOW, 'UTC'), text).toThrow(/^cannot read time/);
    }
  });
});

describe('parseDimensions (tollgate usage --by)', () => {
  const documented = [...DIMENSIONS, 'day', 'tag:<name>'];

  it('takes every dimension, usage_source included, and names them all when refusing one', () => {
    expect(DIMENSIONS).toContain('usage_source');
    expect(parseDimensions(`${DIMENSIONS.join(',')},day,tag:feature`)).toEqual([...DIMENSIONS, 'day', 'tag:feature']);
    expect(() => parseDimensions('project,source')).toThrow(`unknown dimension 'source': use ${documented.slice(0, -1).join(', ')} or tag:<name>`);
    expect(() => parseDimensions('bucket')).toThrow(/^unknown dimension 'bucket'/);
  });

  // The list is written out in the README; this keeps it and DIMENSIONS in step.
  it("is the README's list of --by dimensions", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const listed = /`--by` takes `([^`]+)`/.exec(readme)?.[1];
    expect(listed?.split(/,\s*/)).toEqual(documented);
  });
});
