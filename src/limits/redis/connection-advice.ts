// What an operator should do about a Redis connection error, said next to it: TLS mistakes otherwise show
// up as a bare certificate code, a reset or a timeout that names neither cause nor cure.

/** Node's codes for a server certificate it does not trust, or one that names another host. */
const UNTRUSTED_CERTIFICATE = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** `message`, with what to check when `code` is a common symptom of a TLS mistake; `tls`: the URL is `rediss...://`. */
export function withConnectionAdvice(message: string, code: string | undefined, tls: boolean): string {
  if (code !== undefined && UNTRUSTED_CERTIFICATE.has(code)) {
    return `${message} (the Redis server's TLS certificate is not trusted: start the gateway with NODE_EXTRA_CA_CERTS=/path/to/ca.pem naming the CA that signed it, and use a certificate for the host in storage.counters)`;
  }
  // A TLS handshake sent to a plain port gets no answer (Redis waits for a command); a plain command sent to a TLS port is reset.
  if (tls && code === 'ETIMEDOUT') return `${message} (with rediss://, check that this port serves TLS: a plain Redis port never answers a TLS handshake)`;
  // ioredis's SELECT of the URL's /db refused (redis-client.ts reconnects rather than count in database 0).
  if (/^ERR (DB index is out of range|invalid DB index|SELECT is not allowed)/.test(message)) {
    return `${message} (the database number at the end of storage.counters is not one this Redis has: its \`databases\` setting says how many, and a cluster node has only 0)`;
  }
  if (!tls && code === 'ECONNRESET') return `${message} (if this port serves TLS, write rediss:// instead of redis://)`;
  return message;
}
