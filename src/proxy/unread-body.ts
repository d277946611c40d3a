// Answers sent before the request's body has arrived: a 401 (the key is checked before the body is read),
// a 413 on the Content-Length alone, an unreadable body. The connection is closed after such an answer,
// as the rest of the body is not wanted; but closed at once, under a client still uploading, it fails
// the client's next write (EPIPE, ECONNRESET), often before the client has read the answer. The official
// SDKs then report a connection error instead of the 401 or 413, and retry the whole upload. So, as
// nginx does (its "lingering close"), the gateway ends its side after the answer and reads and drops
// what the client still sends, within bounds, before it closes the connection.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** How long and how much the gateway goes on reading (and dropping) an unwanted body after its answer. */
export interface LingerLimits {
  /** At most this long in all. */
  totalMs: number;
  /** At most this long without a byte arriving. */
  idleMs: number;
  /** At most this many bytes, when set (tests); unset in production, as in nginx. */
  maxBytes?: number;
}

// nginx's lingering_time and lingering_timeout, and like nginx no byte cap: the two times bound what a
// client can make the gateway read, at any body size. A cap of 64 MiB cut the clients a 413 was for (an
// 80 MiB limit on OpenAI's endpoints: 80-144 MiB uploads met EPIPE), and any cap tied to the limit cuts
// those far enough above it. Dropping costs no buffering, less than reading a body the gateway accepts.
export const LINGER_LIMITS: LingerLimits = { totalMs: 30_000, idleMs: 5_000 };

/**
 * For an answer about to be sent (server.ts calls it where answers may come before the body: the key
 * check, the error and not-found handlers): when the body has not all arrived, the connection closes
 * after the answer, lingering first (see above). Nothing changes for a request read in full.
 */
export function closeAfterUnreadBody(req: IncomingMessage, setHeader: (name: string, value: string) => void, limits: LingerLimits): void {
  if (req.complete || hasNoBody(req)) return;
  setHeader('connection', 'close');
  // Node closes a `connection: close` response's socket with destroySoon() once the answer is written;
  // for this one socket that becomes the lingering close. Node goes on parsing what arrives and drops
  // the body (IncomingMessage._dump), or the reader that stopped left it flowing: it is dropped too.
  const socket = req.socket as Socket & { destroySoon(): void };
  socket.destroySoon = () => linger(req, socket, limits);
}

/**
 * A request without Content-Length or Transfer-Encoding (or with a length of 0) has no body (RFC 9112
 * §6.3): it is all in, though Node marks it `complete` only after the handlers that answer at once have run.
 */
function hasNoBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0');
}

function linger(req: IncomingMessage, socket: Socket, limits: LingerLimits): void {
  if (socket.writable) socket.end(); // the answer, then end of stream: the client knows no more comes
  const startBytes = socket.bytesRead;
  let seenBytes = startBytes;
  let lastProgressMs = Date.now();
  const close = (): void => {
    clearTimeout(total);
    clearInterval(watch);
    socket.destroy();
  };
  // Progress is read off socket.bytesRead, not a 'data' listener: adding one takes the socket off the
  // parser's fast path ("unconsume"), and when the parser had paused it under a body nobody read, the
  // socket never read again; the drain stalled once the kernel's buffers (~3 MiB) were full, and the
  // client met EPIPE at the idle timeout. (A dropped body never reaches the request's stream either.)
  const check = (): void => {
    const bytes = socket.bytesRead;
    if (limits.maxBytes !== undefined && bytes - startBytes > limits.maxBytes) return close();
    if (bytes !== seenBytes) {
      seenBytes = bytes;
      lastProgressMs = Date.now();
    } else if (Date.now() - lastProgressMs >= limits.idleMs) close();
  };
  const total = setTimeout(close, limits.totalMs).unref();
  const watch = setInterval(check, Math.max(10, Math.min(1000, limits.idleMs / 5))).unref();
  // The whole body is in: nothing more to wait for once the answer is out.
  const bodyIn = (): void => void (socket.writableFinished ? close() : socket.once('finish', close));
  if (req.complete) return bodyIn();
  req.once('end', bodyIn);
  socket.once('close', close);
}
