// Config files are UTF-8 (YAML 1.2 allows UTF-16 too, but no editor saves config that way by accident).
// Reading other bytes as UTF-8 would replace them with U+FFFD silently: a key's secret would change and
// never match again, and two different secrets could become one.
import { isUtf8 } from 'node:buffer';

/** Why `bytes` is not a UTF-8 config file, and on which line; undefined when it is. */
export function utf8Problem(bytes: Buffer): { line: number; message: string } | undefined {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    return { line: 1, message: 'the file is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8' };
  }
  if (isUtf8(bytes)) return undefined;
  const at = firstInvalidByte(bytes);
  let line = 1;
  // Line ends as YAML counts them: LF, CRLF, or a lone CR.
  for (let i = 0; i < at; i++) if (bytes[i] === 0x0a || (bytes[i] === 0x0d && bytes[i + 1] !== 0x0a)) line++;
  return { line, message: `the file is not UTF-8 (byte 0x${bytes[at].toString(16).padStart(2, '0')} at offset ${at}); save it as UTF-8` };
}

/** The offset of the first byte that does not belong to a well-formed UTF-8 sequence (RFC 3629). */
function firstInvalidByte(bytes: Buffer): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    const length = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (length === 0) return i;
    for (let k = 1; k < length; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
    }
    // Overlong forms, surrogates and code points past U+10FFFF.
    const second = bytes[i + 1];
    if ((b === 0xe0 && second < 0xa0) || (b === 0xed && second > 0x9f) || (b === 0xf0 && second < 0x90) || (b === 0xf4 && second > 0x8f)) return i;
    i += length;
  }
  return bytes.length - 1;
}
