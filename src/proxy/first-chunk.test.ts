import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { firstChunk } from './first-chunk.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** An upstream body that hands out `chunks` and then waits, as a slow stream between two tokens does. */
function slowBody(chunks: Uint8Array[]): AsyncIterable<Uint8Array> {
  const iterator: AsyncIterator<Uint8Array> = {
    next: () => {
      const value = chunks.shift();
      return value ? Promise.resolve({ value, done: false }) : new Promise(() => {});
    },
  };
  return { [Symbol.asyncIterator]: () => iterator };
}

/** Lets WeakRef targets go: they are kept until the current job ends. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('firstChunk', () => {
  it('hands the first chunk on in front of the rest, skipping empty chunks', async () => {
    const body = await firstChunk(slowBody([new Uint8Array(0), Uint8Array.of(1), Uint8Array.of(2)]));
    const it = body![Symbol.asyncIterator]();
    expect([...((await it.next()).value as Uint8Array)]).toEqual([1]);
    expect([...((await it.next()).value as Uint8Array)]).toEqual([2]);
  });

  it('answers undefined for a body that ends without a chunk', async () => {
    expect(await firstChunk((async function* () {})())).toBeUndefined();
  });

  // The caller (pipeline.ts) holds what it gets for the whole stream: a slow stream is open for minutes.
  it('holds the first chunk only until the relay has read it', async () => {
    let first: Uint8Array | undefined = new Uint8Array(1 << 20);
    const kept = new WeakRef(first);
    const body = await firstChunk(slowBody([first]));
    first = undefined;
    let step: IteratorResult<Uint8Array> | undefined = await body![Symbol.asyncIterator]().next();
    expect(step.value.length).toBe(1 << 20);
    step = undefined;
    await nextTurn();
    gc();
    expect(body).toBeDefined(); // still held, as the stream is
    expect(kept.deref()).toBeUndefined();
  });
});
