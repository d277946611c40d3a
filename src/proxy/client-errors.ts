// Requests Node's HTTP parser gives up on before the gateway sees them (a body that never finishes, a
// malformed request line or header): answered in the API's error format with a request id, as every
// other error is, instead of fastify's own `{"error":"Bad Request","statusCode":400}` (OpenAI's when the
// request's head could not be read, so which API it meant is unknown).
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TollgateError } from '../errors/tollgate-error.js';
import type { CorsAsk } from './cors.js';
import { wireOfRequest, type ClientWire } from './exchange.js';
import { errorBody } from './error-body.js';
import { newRequestId, requestIdHeaders } from './request-id.js';

/** fastify's `clientErrorHandler`: one error answer on the socket, then the socket is closed. */
export function clientErrorAnswer(requestTimeoutMs: number, cors: (ask: CorsAsk) => Record<string, string>): (err: NodeJS.ErrnoException, socket: Socket) => void {
  return (err, socket) => {
    // A reset connection has no one to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const req = inFlight(socket);
    // Not inside an answer already under way (a stream, when a pipelined request after it could not be
    // read): the bytes would land in its body. Node's own handler holds back the same way.
    if (socket.writable && !answerStarted(socket)) writeError(socket, errorFor(err, requestTimeoutMs), req ? wireOfRequest(req) : 'openai', req ? cors(req) : {});
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

/**
 * The request the error cut short, when its head had been read (a body that never finished: the 408): its
 * response is the socket's in-flight one, not yet begun. Otherwise (the request line or headers could not
 * be read) which API it meant, and from which origin, is unknown: OpenAI's, and no CORS headers.
 */
function inFlight(socket: Socket): (CorsAsk & { url: string; headers: IncomingMessage['headers'] }) | undefined {
  const res = responseOn(socket);
  const req = res?.headersSent === false ? res.req : undefined;
  return req?.url !== undefined ? { url: req.url, method: req.method, headers: req.headers } : undefined;
}

/** Whether the socket's in-flight response has sent its head: an error answer now would corrupt it. */
function answerStarted(socket: Socket): boolean {
  return responseOn(socket)?.headersSent === true;
}

/** Node's own field (lib/_http_server.js reads it in socketOnError for the same question: is a response in flight?). */
function responseOn(socket: Socket): { headersSent?: boolean; req?: IncomingMessage } | undefined {
  return (socket as Socket & { _httpMessage?: { headersSent?: boolean; req?: IncomingMessage } })._httpMessage;
}

/** One error answer in the API's format (`wire`), written on the socket itself, with a new request id. */
function writeError(socket: Duplex, error: TollgateError, wire: ClientWire = 'openai', extra: Record<string, string> = {}): void {
  const requestId = newRequestId();
  const body = JSON.stringify(errorBody(error, wire, requestId));
  const ids = Object.entries({ ...requestIdHeaders(requestId, wire), ...extra }).map(([name, value]) => `${name}: ${value}\r\n`).join('');
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
