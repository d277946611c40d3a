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
  async function* whole(): AsyncGenerator<Uint8Array> {
    // The iterator is handed on as is: a relay that stops early (`break`) still ends the upstream body.
    try {
      if (first !== undefined) yield first;
      for (let s = await it.next(); !s.done; s = await it.next()) yield s.value;
    } finally {
      await it.return?.();
    }
  }
  return { first, body: whole() };
}
