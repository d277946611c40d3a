// The managed keys' table (auth/managed-key.ts), the same SQL on SQLite and PostgreSQL but for the
// placeholders: `?` here, `$n` after postgresPlaceholders.
import type { ManagedKey } from '../auth/managed-key.js';

export const KEYS_TABLE = 'tollgate_keys';

/** The table, with `bigint` the dialect's 64-bit integer. Lists are JSON text. */
export const keysTable = (bigint: string): string =>
  `CREATE TABLE ${KEYS_TABLE} (id TEXT PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, hint TEXT NOT NULL, organization TEXT NOT NULL, ` +
  `project TEXT, user_id TEXT, tier TEXT, groups_json TEXT NOT NULL, routes_json TEXT, created_at ${bigint} NOT NULL, ` +
  `revoked_at ${bigint}, previous_sha256 TEXT, previous_until ${bigint}, expires_at ${bigint}, updated_at ${bigint} NOT NULL)`;

const COLUMNS = 'id, sha256, hint, organization, project, user_id, tier, groups_json, routes_json, created_at, revoked_at, previous_sha256, previous_until, expires_at, updated_at';

export const LIST_KEYS_SQL = `SELECT ${COLUMNS} FROM ${KEYS_TABLE} ORDER BY created_at, id`;
export const INSERT_KEY_SQL = `INSERT INTO ${KEYS_TABLE} (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`;
// The id stays; everything else may change (a rotation, a revocation).
export const REPLACE_KEY_SQL =
  `UPDATE ${KEYS_TABLE} SET sha256 = ?, hint = ?, organization = ?, project = ?, user_id = ?, tier = ?, groups_json = ?, routes_json = ?, ` +
  `created_at = ?, revoked_at = ?, previous_sha256 = ?, previous_until = ?, expires_at = ?, updated_at = ? WHERE id = ? AND updated_at = ?`;

/** `?` placeholders numbered for PostgreSQL. */
export function postgresPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** The parameters of INSERT_KEY_SQL. */
export function insertParams(k: ManagedKey): Array<string | number | null> {
  return [k.id, ...rest(k)];
}

/** The parameters of REPLACE_KEY_SQL. */
export function replaceParams(k: ManagedKey, expectedUpdatedAt: number): Array<string | number | null> {
  return [...rest(k), k.id, expectedUpdatedAt];
}

function rest(k: ManagedKey): Array<string | number | null> {
  return [k.sha256, k.hint, k.organization, k.project, k.user, k.tier, JSON.stringify(k.groups), k.routes && JSON.stringify(k.routes), k.createdAt, k.revokedAt, k.previousSha256, k.previousUntil, k.expiresAt, k.updatedAt];
}

/** A row of LIST_KEYS_SQL (PostgreSQL hands BIGINT over as text). */
export interface KeyRow {
  id: string;
  sha256: string;
  hint: string;
  organization: string;
  project: string | null;
  user_id: string | null;
  tier: string | null;
  groups_json: string;
  routes_json: string | null;
  created_at: number | string;
  revoked_at: number | string | null;
  previous_sha256: string | null;
  previous_until: number | string | null;
  expires_at: number | string | null;
  updated_at: number | string;
}

export function toManagedKey(r: KeyRow): ManagedKey {
  return {
    id: r.id,
    sha256: r.sha256,
    hint: r.hint,
    organization: r.organization,
    project: r.project,
    user: r.user_id,
    tier: r.tier,
    groups: JSON.parse(r.groups_json) as string[],
    routes: r.routes_json === null ? null : (JSON.parse(r.routes_json) as string[]),
    createdAt: Number(r.created_at),
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
    previousSha256: r.previous_sha256,
    previousUntil: r.previous_until === null ? null : Number(r.previous_until),
    expiresAt: r.expires_at === null ? null : Number(r.expires_at),
    updatedAt: Number(r.updated_at),
  };
}
