// An upstream may quote what it was sent: an OpenAI-compatible server (vLLM, a proxy, a misconfigured
// internal service) can echo the Authorization header in an error message. Everything the gateway relays
// from an upstream error has the provider's own secrets masked first, the way OpenAI masks keys
// ("sk-proj-****...abcd"). Only error answers are scanned: successful bodies stay untouched and unread.

/** Header and query parameter names whose value is a credential: `authorization`, `x-api-key`, Azure's `api-key`, `?key=`, ... */
const CREDENTIAL_NAME = /auth|key|token|secret|pass|credential|cookie|signature/i;

/** Query parameters that are credentials under a name saying nothing of it: Azure Functions' function key, an Azure SAS signature. */
const QUERY_CREDENTIAL_NAME = /^(?:code|sig)$/i;

/** Whether a query parameter's name says its value is a credential (`api_key`, `token`, `sig`, ...). */
export function isQueryCredential(name: string): boolean {
  return CREDENTIAL_NAME.test(name) || QUERY_CREDENTIAL_NAME.test(name);
}

/** An auth scheme before the credential itself (`Bearer sk-...`, `Basic dXNlcjpwYXNz`). */
const AUTH_SCHEME = /^[A-Za-z][\w-]*\s+(?=\S)/;

/**
 * Shorter values are placeholders (`EMPTY`, `ollama`, as local servers are often given), not secrets:
 * masking them would garble ordinary words of the messages.
 */
const MIN_SECRET_LENGTH = 8;

/** `secret` as OpenAI shows a key: its first 3 and last 4 characters around asterisks when it has 20 or more, else asterisks only (same length). */
export function maskSecret(secret: string): string {
  if (secret.length < 20) return '*'.repeat(secret.length);
  return secret.slice(0, 3) + '*'.repeat(secret.length - 7) + secret.slice(-4);
}

/** The secrets one provider sends upstream, and their masking in what the gateway relays from it. */
export class SecretMask {
  /** For a provider that sends nothing anywhere (the in-process mock). */
  static readonly NONE = new SecretMask([]);

  /** [secret, masked], the longest first: one secret inside another is masked as part of the longer. */
  private readonly pairs: ReadonlyArray<readonly [string, string]>;

  constructor(secrets: Iterable<string>) {
    const kept = [...new Set(secrets)].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
    this.pairs = kept.map((s) => [s, maskSecret(s)] as const);
  }

  /**
   * The provider's key, every credential among the headers it sends (each without its auth scheme), and
   * those of its base URL's query (`?key=...`, which some OpenAI-compatible servers take instead of a header;
   * `?code=` on Azure Functions, `?sig=` in a SAS).
   */
  static forUpstream(apiKey: string | undefined, headers: Record<string, string>, query = ''): SecretMask {
    const secrets = apiKey === undefined ? [] : [apiKey];
    for (const name in headers) if (CREDENTIAL_NAME.test(name)) secrets.push(headers[name].trim().replace(AUTH_SCHEME, ''));
    for (const pair of query.replace(/^\?/, '').split('&')) {
      const [name, value] = [...new URLSearchParams(pair)][0] ?? [];
      if (name === undefined || value === undefined || !pair.includes('=') || !isQueryCredential(name)) continue;
      // Quoted as sent (the text after `=`, which is what goes upstream), as read, or read and encoded again
      // (`%2b` and `+` are not what encodeURIComponent writes): any may come back in an error message.
      secrets.push(value, encodeURIComponent(value), pair.slice(pair.indexOf('=') + 1));
    }
    return new SecretMask(secrets);
  }

  /** Whether there is nothing to mask. */
  get empty(): boolean {
    return this.pairs.length === 0;
  }

  /** `text` with every secret masked (the same string when it holds none). */
  text(text: string): string {
    for (const [secret, masked] of this.pairs) if (text.includes(secret)) text = text.replaceAll(secret, masked);
    return text;
  }

  /** `bytes` with every secret masked (the same buffer, not decoded, when it holds none). */
  bytes(bytes: Buffer): Buffer {
    return this.pairs.some(([secret]) => bytes.includes(secret)) ? Buffer.from(this.text(bytes.toString('utf8'))) : bytes;
  }

  /** Header values with every secret masked (the same object when none holds one). */
  headers(headers: Record<string, string>): Record<string, string> {
    let out: Record<string, string> | undefined;
    for (const name in headers) {
      const value = this.text(headers[name]);
      if (value !== headers[name]) (out ??= { ...headers })[name] = value;
    }
    return out ?? headers;
  }
}
