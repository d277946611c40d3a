// Listen failures the user can fix (a port taken, a host that does not exist here), as the one line
// that says so instead of a stack trace. Shared by `serve` and `mock-upstream`.

// The `listen` syscall's own errors, and the host name lookup that comes before it.
const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this host',
};
const LOOKUP_ERRORS: Record<string, string> = {
  ENOTFOUND: 'no such host (give an IP address of this machine, or a name that resolves to one)',
  EAI_AGAIN: 'the host name could not be looked up (DNS did not answer)',
};

/** `cannot listen on host:port: reason` for a failure the user can fix, or undefined for any other error. */
export function listenFailure(err: unknown, host: string, port: number): string | undefined {
  const e = err as { code?: unknown; syscall?: unknown; address?: unknown; port?: unknown } | null;
  if (typeof e?.code !== 'string') return undefined;
  const reason = e.syscall === 'listen' ? LISTEN_ERRORS[e.code] : e.syscall === 'getaddrinfo' ? LOOKUP_ERRORS[e.code] : undefined;
  if (reason === undefined) return undefined;
  // The error's own address and port, when it has them, are the resolved ones (port 0 already picked).
  const address = typeof e.address === 'string' ? e.address : host;
  const where = address.includes(':') ? `[${address}]` : address;
  return `cannot listen on ${where}:${typeof e.port === 'number' ? e.port : port}: ${reason}`;
}
