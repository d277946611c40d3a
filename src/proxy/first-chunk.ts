// Waits for a streamed upstream body's first bytes before the client is answered: until then nothing has
// been delivered, so a stream that fails there can still be answered with a plain error status.

/** The body's first chunk (undefined when it ended without one) and the whole body, that chunk included, to relay. */
export interface StartedBody {
  first: Uint8Array | undefined;
  body: AsyncIterable<Uint8Array>;
}

/** Reads `body` up to its first non-empty chunk; rejects as the body does when it fails before one. */
export async function firstChunk(body: AsyncIterable<Uint8Array>): Promise<StartedBody> {
  const it = body[Symbol.asyncIterator]();
  let step = await it.next();
  while (!step.done && step.value.length === 0) step = await it.next();
  const first = step.done ? undefined : step.value;
  return { first, body: withFirst(first, it) };
}

/**
 * `it` with `first` in front. A plain iterator object, not an async generator: each later chunk is the
 * upstream iterator's own promise, with no promise or generator step added per chunk of every stream.
 * `return` reaches the upstream iterator, so a relay that stops early (`break`) still ends the body.
 */
function withFirst(first: Uint8Array | undefined, it: AsyncIterator<Uint8Array>): AsyncIterable<Uint8Array> {
  let pending = first;
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
