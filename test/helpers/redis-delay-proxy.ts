// A tiny TCP proxy in front of Redis that can delay the bytes it forwards, to test a slow (not dead) store.
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface DelayProxy {
  port: number;
  url: string;
  /** Delay added to every chunk, each direction; 0 forwards at once. */
  setDelay(ms: number): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of `targetPort` that delays every chunk by the delay in force when it arrives
 * (`setDelay`), each direction, and never changes the order of the bytes: what a slow network or a slow
 * Redis does. One queue and one timer per direction; a chunk leaves once it is due and everything before
 * it has left. (A timer per chunk, set for the time left until it is due, does not keep the order: two
 * timers set for the same millisecond from different durations may fire either way round, so a command
 * sent after a delayed one could reach Redis first and the replies would answer the wrong commands.)
 */
export async function startDelayProxy(targetPort: number, listenPort = 0): Promise<DelayProxy> {
  let delayMs = 0;
  const sockets = new Set<Socket>();
  const pipe = (from: Socket, to: Socket): void => {
    const queue: Array<{ dueMs: number; chunk: Buffer }> = [];
    let timer: NodeJS.Timeout | undefined;
    const drain = (): void => {
      timer = undefined;
      const now = Date.now();
      while (queue.length > 0 && queue[0].dueMs <= now) {
        const { chunk } = queue.shift()!;
        if (to.writable) to.write(chunk);
      }
      if (queue.length > 0) timer = setTimeout(drain, queue[0].dueMs - now);
    };
    from.on('data', (chunk: Buffer) => {
      queue.push({ dueMs: Date.now() + delayMs, chunk });
      if (!timer) drain();
    });
    const stop = (): void => {
      clearTimeout(timer);
      to.destroy();
    };
    from.on('close', stop);
    from.on('error', stop);
  };
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    // As Redis and ioredis do: with Nagle's algorithm on, a reply split in two chunks waited for the
    // client's delayed ACK (~40 ms) between them, a stall of this proxy's own.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    sockets.add(client).add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    setDelay: (ms) => void (delayMs = ms),
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
