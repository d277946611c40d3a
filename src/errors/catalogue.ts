// One catalogue of every error Tollgate answers with: a stable code, an HTTP status, the OpenAI error
// `type`, and a message that tells the caller what to do. README.md lists them; a test keeps both in step.

type Params = Record<string, string | number | undefined>;

export interface ErrorEntry {
  status: number;
  /** OpenAI's `error.type` value. */
  type: string;
  /** Which request field is at fault, when one is. */
  param?: string;
  /**
   * OpenAI's own `error.code` where the gateway answers exactly as OpenAI would and OpenAI's code is not
   * the catalogue's (null: OpenAI sends none). The catalogue's code still names the error everywhere else.
   */
  openaiCode?: null;
  message: (p: Params) => string;
}

export const ERRORS = {
  missing_api_key: {
    status: 401,
    type: 'invalid_request_error',
    message: () =>
      "You didn't provide an API key. Send your Tollgate key as 'Authorization: Bearer tg-...' (or 'x-api-key' for Anthropic clients).",
  },
  invalid_api_key: {
    status: 401,
    type: 'invalid_request_error',
    message: () => 'Incorrect API key provided. Ask your Tollgate administrator for a valid key.',
  },
  expired_api_key: {
    status: 401,
    type: 'invalid_request_error',
    message: (p) => `This API key expired at ${p.resetAt}. Ask your Tollgate administrator for a new key, or to extend this one.`,
  },
  ambiguous_api_key: {
    status: 401,
    type: 'invalid_request_error',
    message: () =>
      "Two different API keys were sent (one as 'Authorization: Bearer' and one as 'x-api-key', or in two 'Authorization' or two 'x-api-key' headers), so which one to charge is unclear. Send your Tollgate key once, or the same key in each.",
  },
  model_not_found: {
    status: 404,
    type: 'invalid_request_error',
    param: 'model',
    message: (p) => `The model '${echoed(p.model)}' does not exist or this key may not use it. Models this key can use: ${p.available || '(none)'}.`,
  },
  invalid_json: {
    status: 400,
    type: 'invalid_request_error',
    message: (p) => `We could not parse the JSON body of your request (${p.detail}). Send a valid JSON object with Content-Type: application/json.`,
  },
  invalid_request: {
    status: 400,
    type: 'invalid_request_error',
    message: (p) => `${p.detail}`,
  },
  request_timeout: {
    status: 408,
    type: 'invalid_request_error',
    message: (p) => `The request did not arrive in full within ${p.seconds} s, so the gateway closed the connection. Send the whole request at once.`,
  },
  malformed_http: {
    status: 400,
    type: 'invalid_request_error',
    message: (p) => `The HTTP request could not be read (${p.detail}). Check its headers: one Content-Length, no control characters, lines ending in CRLF.`,
  },
  headers_too_large: {
    status: 431,
    type: 'invalid_request_error',
    message: () => 'The request headers are larger than this gateway reads (16 KB). Send fewer or shorter headers.',
  },
  unsupported_transfer_coding: {
    status: 400,
    type: 'invalid_request_error',
    message: (p) =>
      `The request body is sent with Transfer-Encoding '${p.encoding}', and this gateway reads only chunked. Send it with Content-Length or Transfer-Encoding: chunked alone; to compress it, use Content-Encoding: gzip, deflate or br.`,
  },
  unsupported_encoding: {
    status: 415,
    type: 'invalid_request_error',
    message: (p) => `The request body is encoded as '${p.encoding}', which this gateway cannot decode. Send it uncompressed or as ${p.accepted}.`,
  },
  body_too_large: {
    status: 413,
    type: 'invalid_request_error',
    message: (p) => `The request body is larger than this gateway accepts (${p.limit} bytes). Send a smaller request.`,
  },
  request_over_limit: {
    status: 400,
    type: 'invalid_request_error',
    // The client's own field (max_completion_tokens, max_output_tokens) when it is not max_tokens: `field`.
    param: 'max_tokens',
    message: (p) =>
      `This request needs ${p.needed} tokens (${p.input} input + ${p.output} output${p.lowered ? `, ${outputField(p)} lowered as far as it goes${leastWhy(p)}` : ''}), more than the ${p.label} of ${p.max} tokens per request allows. It can never succeed as sent: ${neverAdvice(p)}.`,
  },
  request_over_window: {
    status: 400,
    type: 'invalid_request_error',
    // A limit set to 0 shuts its scope off: no input is short enough, so the message says who can change it.
    message: (p) =>
      p.zero
        ? `The ${p.label} is 0: no request can pass it. It is set so in the gateway's configuration; ask its administrator.`
        : `This request's input alone (${amount(p.needed, p.unit)}) is more than the ${p.label} allows in a whole window (${amount(p.max, p.unit)}). It can never succeed as sent: shorten the input.`,
  },
  output_over_window: {
    status: 400,
    type: 'invalid_request_error',
    param: 'max_tokens',
    message: (p) =>
      `This request (${p.input} input tokens ${p.lowered ? 'even with' : 'with'} ${outputField(p)}${p.lowered ? ' lowered to' : ''} ${p.output}${leastWhy(p)}) needs ${amount(p.needed, p.unit)}, more than the ${p.label} allows in a whole window (${amount(p.max, p.unit)}). It can never succeed as sent: ${neverAdvice(p)}.`,
  },
  rate_limit_exceeded: {
    status: 429,
    type: 'tokens',
    message: (p) =>
      `${capitalize(String(p.label))} reached: ${p.used} of ${amount(p.max, p.unit)} used, ${p.remaining} left, and this request needs ${p.needed}. It resets in ${p.resetIn} (at ${p.resetAt}).${p.hint ?? ''}`,
  },
  model_unpriced: {
    status: 500,
    type: 'server_error',
    message: (p) => `The ${p.limit} limit is set in USD but there is no price for '${p.model}'. Add it under 'pricing' in the gateway config.`,
  },
  upstream_error: {
    status: 502,
    type: 'upstream_error',
    message: (p) => `The upstream provider '${p.provider}' could not be reached or failed (${p.detail}). Nothing was charged; ${p.advice ?? 'try again'}.`,
  },
  upstream_timeout: {
    status: 504,
    type: 'upstream_error',
    message: (p) =>
      `The upstream provider '${p.provider}' did not answer within ${p.timeoutMs} ms. ` +
      (p.charged === undefined
        ? 'Nothing was charged; try again.'
        : `The provider had the call and bills it, so it was charged ${p.charged} tokens (${p.chargedOutput} of them output). A retry is charged again; a shorter max_tokens makes the call quicker.`),
  },
  endpoint_not_supported: {
    status: 400,
    type: 'invalid_request_error',
    param: 'model',
    message: (p) => `The model '${p.model}' is served by provider '${p.provider}', whose API has no ${p.path} endpoint. ${p.detail}`,
  },
  store_unavailable: {
    status: 503,
    type: 'server_error',
    message: () => 'The gateway cannot reach its counter store, so limits cannot be checked and the request was refused. Try again shortly.',
  },
  counters_not_rebuilt: {
    status: 503,
    type: 'server_error',
    message: (p) =>
      p.waitedMs !== undefined
        ? `The counter store lost its counters (Redis restarted empty, was flushed or failed over) and they are being rebuilt from the usage ledger, which is taking longer than a request waits for it (${p.waitedMs} ms), so limits cannot be checked and the request was refused. Try again shortly.`
        : 'The counter store lost its counters (Redis restarted empty or was flushed) and they cannot be rebuilt from the usage ledger until its database answers, so limits cannot be checked and the request was refused. Try again shortly.',
  },
  ledger_unavailable: {
    status: 503,
    type: 'server_error',
    message: (p) => `The usage ledger cannot be read or written right now (${p.detail}), so this report cannot be made. Calls are still served; try again once the database answers.`,
  },
  response_not_found: {
    status: 404,
    type: 'invalid_request_error',
    openaiCode: null,
    // OpenAI's words for a response id it does not have: the same for one another project owns.
    message: (p) => `Response with id '${p.id}' not found.`,
  },
  previous_response_not_found: {
    status: 404,
    type: 'invalid_request_error',
    param: 'previous_response_id',
    message: (p) => `Previous response with id '${p.id}' not found.`,
  },
  conversation_not_found: {
    status: 404,
    type: 'invalid_request_error',
    openaiCode: null,
    // As for responses: one another project owns gets the words OpenAI has for an id it does not have.
    message: (p) => `Conversation with id '${p.id}' not found.`,
  },
  unknown_conversation: {
    status: 404,
    type: 'invalid_request_error',
    param: 'conversation',
    openaiCode: null,
    message: (p) => `Conversation with id '${p.id}' not found.`,
  },
  owners_unavailable: {
    status: 503,
    type: 'server_error',
    message: () =>
      'The gateway cannot read who owns this stored response or conversation right now (the counter store has no record of it and the ledger does not answer), so it was not served. Try again shortly.',
  },
  conversations_unavailable: {
    status: 400,
    type: 'invalid_request_error',
    message: () =>
      'No model this key can use is served by a provider that keeps conversations (the OpenAI Responses API). Ask your Tollgate administrator for a route to one.',
  },
  not_found: {
    status: 404,
    type: 'invalid_request_error',
    message: (p) => `Unknown endpoint: ${p.method} ${p.path}.`,
  },
  method_not_allowed: {
    status: 405,
    type: 'invalid_request_error',
    message: (p) => `Invalid method for URL (${p.method} ${p.path}): this endpoint takes ${p.allowed}.`,
  },
  admin_key_required: {
    status: 401,
    type: 'invalid_request_error',
    message: () => "This endpoint needs the admin key. Send it as 'Authorization: Bearer <server.admin_key>'.",
  },
  metrics_token_required: {
    status: 401,
    type: 'invalid_request_error',
    message: () => "GET /metrics needs the metrics token. Send it as 'Authorization: Bearer <metrics.bearer_token>' (Prometheus: authorization.credentials).",
  },
  admin_disabled: {
    status: 403,
    type: 'invalid_request_error',
    message: () => 'The admin API is disabled because no server.admin_key is configured. Set server.admin_key (e.g. ${TOLLGATE_ADMIN_KEY}) and reload.',
  },
  key_not_found: {
    status: 404,
    type: 'invalid_request_error',
    message: (p) => `No key with id '${p.id}'. GET /api/keys lists the keys there are.`,
  },
  key_id_taken: {
    status: 409,
    type: 'invalid_request_error',
    param: 'id',
    message: (p) => `A key with id '${p.id}' exists already (${p.detail}). Key ids are never given twice, revoked keys' included, so the ledger's rows stay theirs: choose another id.`,
  },
  key_in_config: {
    status: 409,
    type: 'invalid_request_error',
    message: (p) => `Key '${p.id}' is written in the configuration file, not made through the API: change or remove it there and reload.`,
  },
  key_revoked: {
    status: 409,
    type: 'invalid_request_error',
    message: (p) => `Key '${p.id}' is revoked: it can no longer be rotated or changed. Create a new key instead.`,
  },
  key_changed: {
    status: 409,
    type: 'invalid_request_error',
    message: (p) => `Key '${p.id}' was changed by another admin request while this one ran. Read it again and retry.`,
  },
  key_management_disabled: {
    status: 403,
    type: 'invalid_request_error',
    message: () => "Keys made through the API are kept in the ledger's database, and this gateway runs without one (ledger.enabled: false). Enable the ledger, or write keys in the configuration's `keys`.",
  },
  internal_error: {
    status: 500,
    type: 'server_error',
    message: (p) => `The gateway failed unexpectedly (request ${p.requestId}). Nothing was charged; try again.`,
  },
} satisfies Record<string, ErrorEntry>;

export type ErrorCode = keyof typeof ERRORS;

/** The request's field for its output cap, as the client wrote it (`field`), else max_tokens. */
function outputField(p: Params): string {
  return String(p.field ?? 'max_tokens');
}

/** `, <why>` when the request's own shape sets the least output (`why`: its choices, extended thinking). */
function leastWhy(p: Params): string {
  return p.why ? `: ${p.why}` : '';
}

/**
 * What would let a request that can never pass through: when the gateway already lowered its output cap as
 * far as it goes (`lowered`), only a shorter input or what sets that least (`fix`); otherwise a lower cap too.
 */
function neverAdvice(p: Params): string {
  // A limit on output alone (`outputOnly`) is not helped by a shorter input.
  const shorter = p.outputOnly ? [] : ['shorten the input'];
  const ways = p.lowered ? [...shorter, ...(p.fix ? [String(p.fix)] : [])] : [`lower ${outputField(p)}`, ...shorter];
  return ways.length > 0 ? ways.join(' or ') : "no call of this shape fits the limit; ask the gateway's administrator to raise it";
}

/** An amount with its unit: `120 tokens`, but `$0.0100` alone (the dollar sign is its unit: not `$0.0100 USD`). */
function amount(value: unknown, unit: unknown): string {
  return unit === 'USD' ? String(value) : `${String(value)} ${String(unit)}`;
}

/** A value the client sent, said back at most 200 characters long (a 5 MB model name was echoed whole). */
export function echoed(value: unknown): string {
  const text = String(value);
  return text.length <= 200 ? text : `${text.slice(0, 200)}… (${text.length} characters)`;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
