// The owner of a stored object (a conversation, a stored response) as both ledgers read it back.
import { TABLE } from './ledger-sql.js';
import type { ObjectOwner } from './ledger.js';

/**
 * The newest Responses call since a time (`?` 2) answered as a response id (`?` 1): its row names the
 * project that made the response (on SQLite through the view, whose calls table the id is indexed on).
 */
export const RESPONSE_OWNER_SQL =
  `SELECT organization, project, provider, input_tokens + output_tokens AS context FROM ${TABLE} ` +
  `WHERE provider_response_id = ? AND ts >= ? ORDER BY ts DESC LIMIT 1`;

export interface OwnerRow {
  organization: string;
  project: string | null;
  provider: string;
  /** Responses only: the call's input plus output, what a follow-up carries. */
  context?: number | string | null;
}

export function toObjectOwner(row: OwnerRow): ObjectOwner {
  const owner: ObjectOwner = { organization: row.organization, provider: row.provider };
  if (row.project !== null) owner.project = row.project;
  // PostgreSQL hands a BIGINT sum over as text.
  if (row.context !== undefined && row.context !== null) owner.contextTokens = Number(row.context);
  return owner;
}
