// A client that stops reading its answer (a stream it never consumes, its TCP window shut) held its
// connection, one of the provider pool's connections and its reservation for as long as it kept the socket
// open: Node puts no limit on writing a response, and undici's body timeout does not run while the gateway,
// waiting for the client, reads nothing from the provider. Enough such streams from one key took every
// connection of the provider's pool, and every other caller of that provider waited in undici's queue.
// As nginx's `send_timeout`: an answer whose socket has taken nothing more of it for this long is cut, and
// settled as one whose client left (what the provider produced is charged). A client that reads slowly
// is not cut; one so slow that the kernel frees no send-buffer room for the whole period is.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** How long a response may wait on a client that reads none of it (nginx's send_timeout default). */
export const STALLED_READER_MS = 60_000;

/** Cuts responses whose client has read nothing of what was written for `ms`; a response still waiting on its upstream is left alone. */
export function cutStalledReaders(server: Server, ms: number): void {
  // The socket's inactivity timer: restarted by every read and write, and held off by a write still
  // progressing (net.Socket#_onTimeout). A 'timeout' listener on the response also stops Node's default
  // (destroying the socket at once), so an answer the gateway is itself still waiting for (a reasoning
  // model thinking for minutes, a long pause between events) goes on. Once the response is over, Node
  // sets the keep-alive timeout on the socket, with its own default again.
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => void res.setTimeout(ms, cutIfStalled));
}

/** A response's 'timeout' listener (one function for all: no closure per request). */
function cutIfStalled(this: ServerResponse): void {
  // writableLength: what the response holds plus what its socket has not handed to the kernel. Nothing
  // waiting there: the gateway is the one waiting, and the timer starts again at the next write.
  if (this.writableLength === 0) return;
  // A reset, not a close: a close would leave the kernel holding the unsent megabytes of an orphaned socket
  // (FIN-WAIT-1) for minutes, waiting on the same client's shut window.
  this.socket?.resetAndDestroy();
  this.destroy();
}
