// Checks both ledgers' reader threads (src/ledger/reader-thread.ts) must pass, over rows their database makes.
import { expect } from 'vitest';
import { READ_CHUNK_ROWS, type ReaderThread } from '../../src/ledger/reader-thread.js';

/** `series(n)` selects x = 1..n and square = x * x, in order. */
export type Series = (n: number) => string;

/** Every row is handed over, named by its columns, in chunks of READ_CHUNK_ROWS, in order. */
export async function expectChunkedInOrder(reader: ReaderThread, series: Series): Promise<void> {
  const chunks: number[] = [];
  const xs: number[] = [];
  const n = 2 * READ_CHUNK_ROWS + 7;
  await reader.each(series(n), [], (rows) => {
    chunks.push(rows.length);
    for (const r of rows) {
      expect(r.square).toBe((r.x as number) ** 2);
      xs.push(r.x as number);
    }
  });
  expect(chunks).toEqual([READ_CHUNK_ROWS, READ_CHUNK_ROWS, 7]);
  expect(xs).toEqual(Array.from({ length: n }, (_, i) => i + 1));
}

/** A read whose visitor throws is stopped after that chunk and fails with the visitor's error. */
export async function expectVisitorFailureStops(reader: ReaderThread, series: Series): Promise<void> {
  let visited = 0;
  const failing = reader.each(series(50 * READ_CHUNK_ROWS), [], () => {
    visited++;
    throw new Error('cannot fold this');
  });
  await expect(failing).rejects.toThrow('cannot fold this');
  // The worker was told to stop: at most the chunks it had sent ahead were ever received.
  expect(visited).toBe(1);
}
