// Request bodies sent compressed (`Content-Encoding: gzip`, `deflate` or `br`), as some clients and
// proxies do: inflated before parsing, and held to the body limit once inflated (a small gzip can
// inflate to gigabytes). Bodies that are not compressed, almost all of them, pass by untouched.
import { brotliDecompress, gunzip, inflate, type InputType, type ZlibOptions } from 'node:zlib';
import { invalidRequest, TollgateError } from '../errors/tollgate-error.js';

type Inflate = (buf: InputType, options: ZlibOptions, callback: (err: Error | null, result: Buffer) => void) => void;

// A Map, not an object literal: the name is the client's, and `constructor` or `__proto__` looked up on a
// literal found Object's own members (`Object` took the body and never called back: the request hung forever).
const DECODERS: ReadonlyMap<string, Inflate> = new Map([
  ['gzip', gunzip],
  ['x-gzip', gunzip],
  ['deflate', inflate],
  ['br', brotliDecompress as Inflate],
]);

/** The encodings a request body may arrive in, for `Accept-Encoding` on a 415. */
const ACCEPTED_ENCODINGS = 'gzip, deflate, br, identity';

/**
 * How many times its compressed size a body may inflate to (Apache's DeflateInflateRatioLimit, 200). The
 * body limit alone (80 MiB on the OpenAI endpoints) let 181 bytes of brotli make the gateway hold and parse
 * 80 MiB: 30 such requests at once, 5 KB sent in all, took it from 0.26 to 3.2 GB and 28 s of work. JSON
 * text compresses 3 to 20 times, base64 media hardly at all.
 */
export const MAX_INFLATION_RATIO = 200;

/** Every body may inflate this far, whatever its ratio: a small body of repeated text is no threat. */
export const ALWAYS_INFLATABLE_BYTES = 1024 * 1024;

/** Hands `done` the body as sent before compression, or the error that says why it cannot be. */
export function decodeBody(bytes: Buffer, encoding: string | undefined, maxBytes: number, done: (err: TollgateError | null, body?: Buffer) => void): void {
  const name = encoding?.trim().toLowerCase();
  if (!name || name === 'identity') return done(null, bytes);
  const decode = DECODERS.get(name);
  if (!decode) {
    const refusal = new TollgateError('unsupported_encoding', { encoding: name, accepted: ACCEPTED_ENCODINGS });
    refusal.headers['accept-encoding'] = ACCEPTED_ENCODINGS; // RFC 9110 §15.5.16
    return done(refusal);
  }
  const byRatio = Math.max(ALWAYS_INFLATABLE_BYTES, bytes.length * MAX_INFLATION_RATIO);
  const maxOutputLength = Math.min(maxBytes, byRatio);
  decode(bytes, { maxOutputLength }, (err, body) => {
    if (!err) return done(null, body);
    // maxOutputLength exceeded: the inflated body is over the limit, or over the ratio.
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      if (maxOutputLength === maxBytes) return done(new TollgateError('body_too_large', { limit: maxBytes }));
      return done(
        invalidRequest(
          `The ${name} body expands to more than ${MAX_INFLATION_RATIO} times its ${bytes.length} bytes, more than this gateway inflates ` +
            `(bodies under ${ALWAYS_INFLATABLE_BYTES} bytes once inflated excepted). Send it uncompressed.`,
        ),
      );
    }
    done(new TollgateError('invalid_json', { detail: `the body is not valid ${name} data` }));
  });
}
