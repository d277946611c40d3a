// One raw HTTP/1.1 conversation with a server, for what no HTTP client sends: bodies cut short, pipelined
// requests, malformed framing, pauses between bytes.
import net from 'node:net';

export interface RawExchange {
  /** What came back, as bytes read in Latin-1. */
  text: string;
  ms: number;
  /** The server closed the connection (else `waitMs` passed first and the client closed it). */
  closed: boolean;
}

/** Writes `parts` (strings, and pauses in ms) on a new connection to `port`; resolves with what came back once the server closed it (or after waitMs). */
export function rawExchange(port: number, parts: Array<string | number> | string, waitMs: number): Promise<RawExchange> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1', async () => {
      for (const p of typeof parts === 'string' ? [parts] : parts) {
        if (typeof p === 'number') await new Promise((r) => setTimeout(r, p));
        else if (!socket.destroyed) socket.write(p);
      }
    });
    let text = '';
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('error', () => {});
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, ms: Date.now() - started, closed: false });
    }, waitMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, ms: Date.now() - started, closed: true });
    });
  });
}
