// A tiny TCP proxy in front of Redis that can delay the bytes it forwards, to test a slow (not dead) store.
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface DelayProxy {
  port: number;
  url: string;
  /** Delay added to every chunk, each direction; 0 forwards at once. */
  setDelay(ms: number): void;
  close(): Promise<void>;
}

/** Forwards 127.0.0.1:<port> to 127.0.0.1:<targetPort>, keeping byte order under any delay. */
export async function startDelayProxy(targetPort: number): Promise<DelayProxy> {
  let delayMs = 0;
  const sockets = new Set<Socket>();
  const pipe = (from: Socket, to: Socket): void => {
    let last = 0;
    from.on('data', (chunk) => {
      // Never before the previous chunk, so a delay change cannot reorder the stream.
      const at = Math.max(Date.now() + delayMs, last);
      last = at;
      setTimeout(() => to.writable && to.write(chunk), at - Date.now());
    });
    from.on('close', () => to.destroy());
    from.on('error', () => to.destroy());
  };
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
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
