// Writes a MockReply to a node:http response: latency first, then the body or the SSE frames
// paced by chunkDelayMs, waiting for 'drain' when the socket is full, and dropping the
// connection after abortAfterFrames frames when asked.
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MockReply, MockSseReply } from '../providers/mock/index.js';

/** Sends `reply` on `res`; resolves when done, aborted, or the client went away. Never rejects. */
export async function writeMockReply(res: ServerResponse, reply: MockReply): Promise<void> {
  // One controller per response: a client that disconnects cancels pending sleeps and drain waits.
  const gone = new AbortController();
  const onClose = () => gone.abort();
  res.once('close', onClose);
  try {
    if (reply.latencyMs > 0) await sleep(reply.latencyMs, undefined, { signal: gone.signal });
    if (gone.signal.aborted) return;
    if (reply.kind === 'json') {
      res.writeHead(reply.status, { ...reply.headers, 'content-length': Buffer.byteLength(reply.body) });
      res.end(reply.body);
      return;
    }
    await writeFrames(res, reply, gone.signal);
  } catch (err) {
    if (!gone.signal.aborted) res.destroy(err as Error);
  } finally {
    res.off('close', onClose);
  }
}

async function writeFrames(res: ServerResponse, reply: MockSseReply, signal: AbortSignal): Promise<void> {
  res.writeHead(reply.status, reply.headers);
  const abortAt = reply.abortAfterFrames;
  const frames = reply.frames;
  if (abortAt === 0) {
    res.flushHeaders(); // the client sees a 200 and then a dead connection, like a mid-stream upstream failure
    return dropAfterFlush(res);
  }
  for (let i = 0; i < frames.length; i++) {
    if (signal.aborted) return;
    if (i > 0 && reply.chunkDelayMs > 0) await sleep(reply.chunkDelayMs, undefined, { signal });
    const ok = res.write(frames[i]!);
    if (abortAt !== undefined && i + 1 >= abortAt) return dropAfterFlush(res);
    if (!ok) await once(res, 'drain', { signal });
  }
  res.end();
}

// Destroys the socket once everything written so far has reached the kernel, so the client
// receives exactly the frames before the abort and then an unterminated chunked body.
function dropAfterFlush(res: ServerResponse): void {
  const socket = res.socket;
  if (!socket) {
    res.destroy();
    return;
  }
  socket.write('', () => socket.destroy());
}
