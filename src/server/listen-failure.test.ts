import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { listenFailure } from './listen-failure.js';

/** The error a real `listen` gives. */
function listenError(port: number, host: string): Promise<unknown> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', resolve);
    server.listen(port, host, () => server.close(() => resolve(undefined)));
  });
}

describe('listenFailure', () => {
  it('names a port already in use', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    try {
      expect(listenFailure(await listenError(port, '127.0.0.1'), '127.0.0.1', port)).toBe(`cannot listen on 127.0.0.1:${port}: address already in use`);
    } finally {
      taken.close();
    }
  });

  it('names a host that does not resolve, with the port it was given', async () => {
    const err = await listenError(4141, 'gateway.invalid');
    expect(listenFailure(err, 'gateway.invalid', 4141)).toMatch(/^cannot listen on gateway\.invalid:4141: (no such host|the host name could not be looked up)/);
  });

  it('brackets IPv6 addresses and leaves other errors alone', () => {
    expect(listenFailure({ code: 'EADDRNOTAVAIL', syscall: 'listen', address: 'fe80::1', port: 80 }, 'fe80::1', 80)).toBe('cannot listen on [fe80::1]:80: address not available on this host');
    expect(listenFailure(new Error('boom'), 'h', 1)).toBeUndefined();
    expect(listenFailure({ code: 'ECONNRESET', syscall: 'read' }, 'h', 1)).toBeUndefined();
  });
});
