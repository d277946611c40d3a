// Requests Node's HTTP parser gives up on before the gateway sees them (a body that never finishes, a
// malformed request line or header): answered in OpenAI's error format with a request id, as every
// other error is, instead of fastify's own `{"error":"Bad Request","statusCode":400}`.
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TollgateError } from '../errors/tollgate-error.js';
import { newRequestId, requestIdHeaders } from './request-id.js';

/** fastify's `clientErrorHandler`: one error answer on the socket, then the socket is closed. */
export function clientErrorAnswer(requestTimeoutMs: number): (err: NodeJS.ErrnoException, socket: Socket) => void {
  return (err, socket) => {
    // A reset connection has no one to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    if (socket.writable) writeError(socket, errorFor(err, requestTimeoutMs));
    socket.destroy();
  };
}

/**
 * The server's `connect` listener. Node closes a CONNECT request's socket without a word when nothing
 * listens; a client whose HTTPS_PROXY names the gateway then reports a bare "socket hang up". This tells
 * it what every other unknown method and path is told.
 */
export function connectAnswer(req: IncomingMessage, socket: Duplex): void {
  socket.on('error', () => socket.destroy());
  writeError(socket, new TollgateError('not_found', { method: req.method, path: req.url }));
  // Closed once the answer is out: no timeout of the server's watches a socket taken off its parser.
  socket.end(() => socket.destroy());
}

/** One error answer in OpenAI's format, written on the socket itself, with a new request id. */
function writeError(socket: Duplex, error: TollgateError): void {
  const body = JSON.stringify(error.toOpenAI());
  // The request could not be parsed (or is no API request), so which API (and header name) it meant is unknown: OpenAI's.
  const ids = Object.entries(requestIdHeaders(newRequestId(), 'openai')).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  socket.write(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${ids}Connection: close\r\n\r\n${body}`,
  );
}

function errorFor(err: NodeJS.ErrnoException, requestTimeoutMs: number): TollgateError {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return new TollgateError('request_timeout', { seconds: requestTimeoutMs / 1000 });
  if (err.code === 'HPE_HEADER_OVERFLOW') return new TollgateError('headers_too_large');
  // llhttp's reasons are short and name no data: "Duplicate Content-Length", "Invalid header value char".
  return new TollgateError('malformed_http', { detail: (err as { reason?: string }).reason ?? err.code ?? 'parse error' });
}
