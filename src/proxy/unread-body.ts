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
  /** At most this many bytes. */
  maxBytes: number;
}

// nginx's lingering_time and lingering_timeout; 64 MiB drop in well under a second on a local network.
export const LINGER_LIMITS: LingerLimits = { totalMs: 30_000, idleMs: 5_000, maxBytes: 64 * 1024 * 1024 };

/**
 * For an answer about to be sent (server.ts calls it where answers may come before the body: the key
 * check, the error and not-found handlers): when the body has not all arrived, the connection closes
 * after the answer, lingering first (see above). Nothing changes for a request read in full.
 */
export function closeAfterUnreadBody(req: IncomingMessage, setHeader: (name: string, value: string) => void, limits: LingerLimits): void {
  if (req.complete) return;
  setHeader('connection', 'close');
  // Node closes a `connection: close` response's socket with destroySoon() once the answer is written;
  // for this one socket that becomes the lingering close. Node goes on parsing what arrives and drops
  // the body (IncomingMessage._dump), or the reader that stopped left it flowing: it is dropped too.
  const socket = req.socket as Socket & { destroySoon(): void };
  socket.destroySoon = () => linger(req, socket, limits);
}

function linger(req: IncomingMessage, socket: Socket, limits: LingerLimits): void {
  if (socket.writable) socket.end(); // the answer, then end of stream: the client knows no more comes
  let received = 0;
  let idle: NodeJS.Timeout;
  const close = (): void => {
    clearTimeout(total);
    clearTimeout(idle);
    socket.off('data', onData);
    socket.destroy();
  };
  const onData = (chunk: Buffer): void => {
    received += chunk.length;
    if (received > limits.maxBytes) return close();
    idle.refresh();
  };
  const total = setTimeout(close, limits.totalMs).unref();
  idle = setTimeout(close, limits.idleMs).unref();
  // The whole body is in: nothing more to wait for once the answer is out.
  const bodyIn = (): void => void (socket.writableFinished ? close() : socket.once('finish', close));
  if (req.complete) return bodyIn();
  // Counted off the socket: a dropped body's bytes never reach the request's stream (Node discards them
  // in its parser). A 'data' listener moves the socket's reads from the parser's fast path into
  // JavaScript, which costs nothing that matters on a connection about to close.
  socket.on('data', onData);
  req.once('end', bodyIn);
  socket.once('close', close);
}
