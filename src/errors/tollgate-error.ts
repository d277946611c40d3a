// The one error type the gateway throws on purpose; rendered in the caller's wire format at the edge.
import { ERRORS, type ErrorCode, type ErrorEntry } from './catalogue.js';

export class TollgateError extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;

  constructor(
    readonly code: ErrorCode,
    readonly params: Record<string, string | number | undefined> = {},
    /** Extra response headers (Retry-After, x-tollgate-limit, ...). */
    readonly headers: Record<string, string> = {},
    typeOverride?: string,
  ) {
    const entry: ErrorEntry = ERRORS[code];
    super(entry.message(params));
    this.status = entry.status;
    this.type = typeOverride ?? entry.type;
    this.param = entry.param ?? null;
  }

  /** OpenAI's error body: `{"error": {"message", "type", "param", "code"}}`. */
  toOpenAI(): { error: { message: string; type: string; param: string | null; code: string } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}
