// Config values that end up in HTTP headers (provider `api_key` and `headers`, and the secrets clients
// present). undici refuses any other character with UND_ERR_INVALID_ARG on every call, which surfaced
// only as a 502; Node's server refuses such a request header outright. Refused at load instead.

/** A character that no HTTP header value can hold, and where it is. */
export interface UnsendableCharacter {
  /** `a line break (CR or LF)`, `a control character (U+0000)`, `a character beyond Latin-1 (U+20AC)`. */
  what: string;
  /** Whether it is the last character (a file's final newline, carried in by `${VAR}`). */
  atEnd: boolean;
}

// RFC 9110 field-value: VCHAR, SP, HTAB and obs-text (0x80-0xFF, a JS string being sent as Latin-1);
// exactly what undici (lib/core/util.js headerCharRegex) and Node's http module accept.
const NOT_IN_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/** The first character of `value` an HTTP header cannot carry, or undefined when there is none. */
export function unsendableCharacter(value: string): UnsendableCharacter | undefined {
  const found = NOT_IN_HEADER_VALUE.exec(value);
  if (!found) return undefined;
  const char = found[0];
  const code = char.codePointAt(0)!;
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  const what = char === '\r' || char === '\n' ? 'a line break (CR or LF)' : code < 0x100 ? `a control character (${hex})` : `a character beyond Latin-1 (${hex})`;
  // A CRLF or a lone line break at the end both count as "at the end".
  return { what, atEnd: /^[\r\n]+$/.test(value.slice(found.index)) };
}

/** Why `value` cannot be an HTTP header value, for a config message (never showing the value); undefined when it can. */
export function headerValueProblem(value: string): string | undefined {
  const bad = unsendableCharacter(value);
  if (!bad) return undefined;
  if (bad.atEnd) return `ends with ${bad.what}, which no HTTP header can carry: remove it (a value read from a file often keeps the file's last newline)`;
  return `holds ${bad.what}, which no HTTP header can carry`;
}
