// A streamed call that the client may leave part way, and the record the gateway makes of it.
import type { CallRecord } from '../../src/proxy/gateway.js';
import type { TestGateway } from './in-process.js';
import { until } from './until.js';

/**
 * Runs `call` with a signal and reads its stream, aborting once `leave(event)` says so (never, when it
 * does not); returns the call's record once the gateway has made it.
 */
export async function leftEarly(gw: TestGateway, call: (signal: AbortSignal) => Promise<AsyncIterable<unknown>>, leave: (event: unknown) => boolean): Promise<CallRecord> {
  const before = gw.calls.length;
  const abort = new AbortController();
  try {
    for await (const ev of await call(abort.signal)) if (leave(ev)) abort.abort();
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  }
  await until(() => gw.calls.length > before);
  return gw.calls[gw.calls.length - 1]!;
}
