// The last N requests the mock upstream received, so tests can assert exactly what the gateway sent.
import type { IncomingHttpHeaders } from 'node:http';

/**
 * One request as received: the parsed JSON body, the raw text when it was not JSON, or null when empty.
 * GET /__mock/requests writes a body too deep for JSON.stringify as its raw text (requestLogJson).
 */
export interface RecordedRequest {
  method: string;
  /** The path without the query string. */
  path: string;
  /** The request target as sent, query string included. */
  url: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  /** The body's text exactly as received ('' when empty). */
  text: string;
  /** ISO-8601 time of arrival. */
  receivedAt: string;
}

/** A bounded log that keeps the most recent `capacity` requests, oldest first. */
export class RequestLog {
  private readonly items: RecordedRequest[] = [];
  private start = 0; // index of the oldest entry once the ring is full

  constructor(private readonly capacity = 1000) {}

  /** Appends a request, evicting the oldest when full. */
  add(req: RecordedRequest): void {
    if (this.items.length < this.capacity) {
      this.items.push(req);
      return;
    }
    this.items[this.start] = req;
    this.start = (this.start + 1) % this.capacity;
  }

  /** The recorded requests, oldest first. */
  list(): RecordedRequest[] {
    return [...this.items.slice(this.start), ...this.items.slice(0, this.start)];
  }

  /** Forgets every recorded request. */
  clear(): void {
    this.items.length = 0;
    this.start = 0;
  }
}

/**
 * `requests` as JSON. A body nested too deep for JSON.stringify (some thousands of levels: it recurses, and
 * the call stack runs out, where JSON.parse took it) is written as its raw text, as a body that was not
 * JSON is. Only the log's reader pays for the check: recording stays as cheap as it was.
 */
export function requestLogJson(requests: RecordedRequest[]): string {
  try {
    return JSON.stringify(requests);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
  }
  return `[${requests.map(entryJson).join(',')}]`;
}

function entryJson(r: RecordedRequest): string {
  try {
    return JSON.stringify(r);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return JSON.stringify({ ...r, body: r.text });
  }
}
