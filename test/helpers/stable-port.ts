// Local ports for tests that bind a port later than they choose it. Chosen below Linux's ephemeral range
// (32768 and up): a port there that is free when checked can be taken before the test binds it, by another
// test's outgoing connection, or by a connection to that very port (a client retrying a closed local port
// can be given it as its own source port and connect to itself: TCP's self-connect).
import { createServer } from 'node:net';

/** Whether `port` can be bound on 127.0.0.1 now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port from 10000 up to `below` (at most 32768) that is free now, and passes `alsoFree` when given. */
export async function freeStablePort(below = 32_768, alsoFree?: (port: number) => Promise<boolean>): Promise<number> {
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * (below - 10_000));
    if ((await portFree(port)) && (!alsoFree || (await alsoFree(port)))) return port;
  }
}
