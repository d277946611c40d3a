// Review of the SQLite reader thread: closing the ledger while a read runs and others wait, and a process
// that never closes its ledger. Real SQLite files; a real child process (vite-node) for the exit check.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Ledger } from '../src/ledger/ledger.js';
import { openLedger } from '../src/ledger/open-ledger.js';
import { sampleRow } from './helpers/sample-row.js';
import { sqlitePlace } from './helpers/ledgers.js';

const NOW = Date.UTC(2026, 11, 6, 12);

async function seeded(n: number): Promise<{ ledger: Ledger; drop: () => Promise<void>; url: string }> {
  const place = sqlitePlace();
  const ledger = await openLedger(place.url);
  for (let s = 0; s < n; s += 10_000) {
    await ledger.append(Array.from({ length: Math.min(10_000, n - s) }, (_, i) => sampleRow({ requestId: `r${s + i}`, ts: NOW - (n - s - i) })));
  }
  return { ledger, drop: place.drop, url: place.url };
}

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe('closing a SQLite ledger while its reader thread reads', () => {
  it('close() during a long read with reads queued: close ends quickly, every pending read rejects, nothing hangs', async () => {
    const { ledger, drop } = await seeded(30_000);
    try {
      let visited = 0;
      let firstVisit!: () => void;
      const started = new Promise<void>((r) => (firstVisit = r));
      const long = ledger.eachEvent(0, undefined, () => {
        if (visited++ === 0) firstVisit();
        if (visited % 1000 === 0) busy(20);
      });
      const queued = [ledger.rows({ sinceMs: 0 }), ledger.summarize({ groupBy: ['user'], sinceMs: 0 }), ledger.events(0), ledger.rows({ sinceMs: NOW - 5 })];
      const settled = Promise.allSettled([long, ...queued]);
      await started;
      const t0 = performance.now();
      await ledger.close();
      const closeTook = performance.now() - t0;
      const outcomes = await Promise.race([settled, new Promise<'hang'>((r) => setTimeout(() => r('hang'), 5000))]);
      expect(outcomes).not.toBe('hang');
      expect(closeTook).toBeLessThan(2000);
      const results = outcomes as PromiseSettledResult<unknown>[];
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected', 'rejected']);
      // What the callers are told (recorded, see report): the thread's exit, not that the ledger closed.
      for (const r of results) expect(String((r as PromiseRejectedResult).reason)).toMatch(/closed|exited/);
      expect(visited).toBeLessThan(30_000);
      // A read after close fails at once.
      await expect(ledger.rows({ sinceMs: 0 })).rejects.toThrow(/closed/);
      // A second close is harmless.
      await ledger.close();
    } finally {
      await drop();
    }
  });

  it('close() right after a read was asked (before the worker answered anything) does not hang', async () => {
    const { ledger, drop } = await seeded(5_000);
    try {
      const reads = [ledger.rows({ sinceMs: 0 }), ledger.events(0)];
      const settled = Promise.allSettled(reads);
      await ledger.close();
      const outcomes = await Promise.race([settled, new Promise<'hang'>((r) => setTimeout(() => r('hang'), 5000))]);
      expect(outcomes).not.toBe('hang');
    } finally {
      await drop();
    }
  });

  it('a process that reads and never closes its ledger exits on its own; one that closes mid-read exits too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-review-reader-proc-'));
    try {
      const script = join(dir, 'child.ts');
      writeFileSync(
        script,
        `import { openLedger } from ${JSON.stringify(join(process.cwd(), 'src/ledger/open-ledger.js'))};
import { sampleRow } from ${JSON.stringify(join(process.cwd(), 'test/helpers/sample-row.js'))};
const l = await openLedger('sqlite:' + process.argv[2]);
await l.append(Array.from({ length: 12000 }, (_, i) => sampleRow({ requestId: 'r' + i, ts: 1000 + i })));
if (process.argv[3] === 'close-mid-read') {
  const p = l.rows({ sinceMs: 0 }).then(() => 'read', (e) => 'rejected: ' + e.message);
  await new Promise((r) => setImmediate(r));
  await l.close();
  console.log(await p);
} else {
  console.log('rows', (await l.rows({ sinceMs: 0 })).length, (await l.events(0)).length);
}
`,
      );
      for (const mode of ['no-close', 'close-mid-read']) {
        const t0 = performance.now();
        const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
          const child = spawn(join(process.cwd(), 'node_modules/.bin/vite-node'), [script, join(dir, `${mode}.db`), mode], { cwd: process.cwd() });
          let out = '';
          child.stdout.on('data', (d) => (out += d));
          child.stderr.on('data', (d) => (out += d));
          const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
          child.on('exit', (c) => {
            clearTimeout(kill);
            resolve({ code: c, out });
          });
        });
        expect(code, `${mode}: ${out}`).toBe(0);
        expect(performance.now() - t0).toBeLessThan(15_000);
        if (mode === 'no-close') expect(out).toContain('rows 12000 12000');
        else expect(out).toMatch(/read|rejected/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
