// `tollgate usage` with a relative time so large that it lands outside the dates JavaScript can print
// (more than 100,000,000 days, about 273,790 years, from 1970). Each flag is read as a number of ms
// without complaint, and then printing the period threw: `--until 99999999999d` died in the "period is
// empty" message and `--since 99999999999d --format json` in the report's `since`, with
// "RangeError: Invalid time value" and a stack trace instead of the usage error (exit 1) every other
// unreadable time gets.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openLedger } from '../src/ledger/open-ledger.js';
import { runUsage, type UsageOptions } from '../src/cli/usage-run.js';
import { sqlitePlace, type LedgerPlace } from './helpers/ledgers.js';
import { sampleRow } from './helpers/sample-row.js';

let place: LedgerPlace;

beforeAll(async () => {
  place = sqlitePlace();
  const ledger = await openLedger(place.url);
  await ledger.append([sampleRow({ ts: Date.now() - 3_600_000 })]);
  await ledger.close();
});
afterAll(() => place.drop());

/** Runs the command in this process: its exit code, and what it printed on stdout and stderr. */
async function usage(opts: Partial<UsageOptions>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
  const error = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void err.push(args.join(' ')));
  try {
    const code = await runUsage({ ledger: place.url, by: 'project', since: '7d', format: 'table', timezone: 'UTC', ...opts });
    return { code, out: out.join(''), err: err.join('\n') };
  } finally {
    write.mockRestore();
    error.mockRestore();
  }
}

describe('tollgate usage: times too far away to be dates', () => {
  it('reports --until 99999999999d as a usage error', async () => {
    const r = await usage({ until: '99999999999d' });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--until 99999999999d/);
    expect(r.out).toBe('');
  });

  it('reports --since 99999999999d as a usage error in JSON too', async () => {
    const r = await usage({ since: '99999999999d', format: 'json' });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--since 99999999999d/);
    expect(r.out).toBe('');
  });

  it('still reads a long but printable period', async () => {
    const r = await usage({ since: '36500d', format: 'json' });
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out) as { since: string; totals: { calls: number } };
    expect(json.totals.calls).toBe(1);
    expect(Date.parse(json.since)).toBeLessThan(Date.UTC(1930, 0, 1));
  });
});
