// Waits for a streamed upstream body's first bytes before the client is answered: until then nothing has
// been delivered, so a stream that fails there can still be answered with a plain error status.

/**
 * Reads `body` up to its first non-empty chunk; resolves to the whole body, that chunk included, to relay,
 * or undefined when it ended without one; rejects as the body does when it fails before one. The chunk
 * itself is not handed back: the caller's frame lives as long as the stream, and would keep it that long
 * (~0.8 KB per open stream); the relay's first read takes it from here and nothing holds it after.
 */
export async function firstChunk(body: AsyncIterable<Uint8Array>): Promise<AsyncIterable<Uint8Array> | undefined> {
  const it = body[Symbol.asyncIterator]();
  let step = await it.next();
  while (!step.done && step.value.length === 0) step = await it.next();
  return step.done ? undefined : withFirst(step.value, it);
}

/**
 * `it` with `first` in front. A plain iterator object, not an async generator: each later chunk is the
 * upstream iterator's own promise, with no promise or generator step added per chunk of every stream.
 * `return` reaches the upstream iterator, so a relay that stops early (`break`) still ends the body.
 */
function withFirst(first: Uint8Array, it: AsyncIterator<Uint8Array>): AsyncIterable<Uint8Array> {
  let pending: Uint8Array | undefined = first;
  const iterator: AsyncIterator<Uint8Array> = {
    next() {
      if (pending === undefined) return it.next();
      const value = pending;
      pending = undefined;
      return Promise.resolve({ value, done: false });
    },
    return(value?: unknown) {
      pending = undefined;
      return it.return ? it.return(value) : Promise.resolve({ value: undefined, done: true });
    },
  };
  return { [Symbol.asyncIterator]: () => iterator };
}
