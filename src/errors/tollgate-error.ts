// The one error type the gateway throws on purpose; rendered in the caller's wire format at the edge.
import { ERRORS, type ErrorCode, type ErrorEntry } from './catalogue.js';

export class TollgateError extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  /** The `code` of the OpenAI-format body: the catalogue's, or OpenAI's own where they differ. */
  private readonly openaiCode: string | null;

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
    this.openaiCode = entry.openaiCode === undefined ? code : entry.openaiCode;
  }

  /** OpenAI's error body: `{"error": {"message", "type", "param", "code"}}`. */
  toOpenAI(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.openaiCode } };
  }

  /** Anthropic's error body: `{"type": "error", "error": {"type", "message"}}`, the type chosen by status as Anthropic does. */
  toAnthropic(): { type: 'error'; error: { type: string; message: string } } {
    return { type: 'error', error: { type: anthropicErrorType(this.status), message: this.message } };
  }
}

/** The 400 for a request the gateway cannot work with: the caller's detail, and the field when there is one. */
export function invalidRequest(detail: string, param?: string): TollgateError {
  const err = new TollgateError('invalid_request', { detail });
  return param ? Object.assign(err, { param }) : err;
}

/** Anthropic's `error.type` for an HTTP status (https://docs.anthropic.com/en/api/errors). */
export function anthropicErrorType(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 503:
    case 529:
      return 'overloaded_error';
    case 504:
      return 'timeout_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}
