// Local days for the dashboard's history and projection: one per calendar date, back to back, whatever
// DST does, and always a finite list (it once spun for ever in Cairo and Beirut, freezing the gateway).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { localDays } from './daily-usage.js';

const HOUR = 3_600_000;

/** The local date (YYYY-MM-DD) at `ms` in `tz`. */
const dateIn = (ms: number, tz: string): string => new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(ms);

describe('localDays', () => {
  it('lists each calendar date once, back to back, 23- and 25-hour DST days included', () => {
    // New York: 8 March 2026 has 23 hours, 1 November 25.
    for (const [from, to, short, long] of [
      [Date.UTC(2026, 2, 5, 12), Date.UTC(2026, 2, 10, 12), '2026-03-08', undefined],
      [Date.UTC(2026, 9, 30, 12), Date.UTC(2026, 10, 3, 12), undefined, '2026-11-01'],
    ] as const) {
      const days = localDays(from, to, 'America/New_York');
      expect(days[0].startMs).toBeLessThanOrEqual(from);
      expect(days.at(-1)!.endMs).toBeGreaterThan(to);
      days.forEach((d, i) => {
        if (i > 0) expect(d.startMs).toBe(days[i - 1].endMs);
        const date = dateIn(d.startMs, 'America/New_York');
        expect(dateIn(d.endMs - 1, 'America/New_York')).toBe(date);
        expect(d.weekday).toBe(new Date(`${date}T12:00:00Z`).getUTCDay());
        expect(d.endMs - d.startMs).toBe(date === short ? 23 * HOUR : date === long ? 25 * HOUR : 24 * HOUR);
      });
    }
  });

  // Cairo and Beirut skip a midnight at the start of summer time (00:00 is 01:00): 24 April 2026 in Cairo,
  // 29 March in Beirut. Run in a child process:
  // a list that never ends would otherwise hang this test file instead of failing it.
  it.each([
    ['Africa/Cairo', Date.UTC(2026, 3, 1, 12), Date.UTC(2026, 3, 30, 12), 30],
    ['Asia/Beirut', Date.UTC(2026, 2, 1, 12), Date.UTC(2026, 2, 31, 12), 31],
  ])('ends, with one day per date, where DST skips midnight (%s)', (tz, from, to, count) => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-local-days-'));
    const script = join(dir, 'days.ts');
    const module = fileURLToPath(new URL('./daily-usage.ts', import.meta.url));
    writeFileSync(script, `import { localDays } from ${JSON.stringify(module)};\nconsole.log(JSON.stringify(localDays(${from}, ${to}, ${JSON.stringify(tz)})));\n`);
    const viteNode = fileURLToPath(new URL('../../node_modules/.bin/vite-node', import.meta.url));
    // SIGKILL: vite-node outlives the SIGTERM a timeout sends by default.
    const run = spawnSync(viteNode, [script], { encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
    rmSync(dir, { recursive: true, force: true });
    expect(run.signal, 'localDays did not return within 20 s').toBeNull();
    expect(run.status, run.stderr).toBe(0);
    const days = JSON.parse(run.stdout) as Array<{ startMs: number; endMs: number; weekday: number }>;
    const dates = days.map((d) => dateIn(d.startMs + 12 * HOUR, tz));
    expect(new Set(dates).size).toBe(count);
    expect(days).toHaveLength(count);
    days.forEach((d, i) => {
      if (i > 0) expect(d.startMs).toBe(days[i - 1].endMs);
      expect(d.weekday).toBe(new Date(`${dates[i]}T12:00:00Z`).getUTCDay());
    });
  });
});
