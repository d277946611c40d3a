// Creating, listing, revoking and rotating managed keys (managed-key.ts): what the admin API's `/api/keys`
// routes and `tollgate keys` do, without HTTP. Every change is written to the key table first, then
// applied to this gateway before the caller is answered; other instances take it at their next refresh.
import * as z from 'zod';
import type { KeyPolicy, Policy } from '../config/policy.js';
import { keyPrincipalShape, refineKeyPrincipal } from '../config/key-schema.js';
import { nameSchema } from '../config/name-schema.js';
import { sha256Hex } from '../config/sha256.js';
import { didYouMean } from '../config/suggest.js';
import { invalidRequest, TollgateError } from '../errors/tollgate-error.js';
import type { KeyTable } from './key-table.js';
import { hintOf, keyProblems, newSecret, onlyOrganization, principalFields, withManagedKeys, type KeyPrincipalFields, type ManagedKey } from './managed-key.js';

export interface KeyAdminContext {
  table: KeyTable;
  /** The configuration as its files say, without managed keys: what a new key must fit. */
  config: () => Policy;
  /** Reads the table again and applies it to this gateway; resolves once the change is in force here. */
  apply: () => Promise<void>;
  now: () => number;
}

/** The longest a rotated key's old secret may go on working: a week, for clients redeployed slowly. */
export const MAX_GRACE_SECONDS = 7 * 24 * 3600;

/** `expires_at`: Unix seconds, as the API's other times. */
const expiresAt = z.number().int().positive();
const createBody = z.strictObject({ id: nameSchema, ...keyPrincipalShape, expires_at: expiresAt.optional() }).superRefine(refineKeyPrincipal);
// A change to who a key stands for: the fields given replace the key's; null clears one.
const updateBody = z.strictObject({
  organization: nameSchema.optional(),
  project: nameSchema.nullable().optional(),
  user: nameSchema.nullable().optional(),
  tier: nameSchema.nullable().optional(),
  groups: z.array(nameSchema).optional(),
  routes: z.array(nameSchema).nullable().optional(),
  expires_at: expiresAt.nullable().optional(),
});
const rotateBody = z.strictObject({ grace_seconds: z.number().int().min(0).max(MAX_GRACE_SECONDS).default(0) });

/**
 * A key as the admin API shows it: never the secret; whom it stands for as the key table stores it; times in
 * Unix seconds, as OpenAI's APIs give them.
 */
export interface KeyView extends Pick<ManagedKey, 'id' | 'organization' | 'project' | 'user' | 'tier' | 'groups' | 'routes'> {
  object: 'tollgate.key';
  /** `config`: written in a config file; `api`: made through the admin API. */
  source: 'config' | 'api';
  /** `inactive`: an API key the configuration no longer fits (its project or tier removed), refused until it does. */
  status: 'active' | 'revoked' | 'expired' | 'inactive';
  /** Why an inactive key is. */
  status_detail?: string;
  /** The secret's first and last characters; null for config keys (a config may hold only a key's hash). */
  hint: string | null;
  created_at: number | null;
  revoked_at: number | null;
  /** After a rotation with a grace period: until when the replaced secret still works. */
  previous_key_expires_at: number | null;
  /** When the key stops working (made with `expires_at`); null: never. */
  expires_at: number | null;
}

/** Creates a key; the answer's secret is shown this once and kept nowhere. */
export async function createKey(ctx: KeyAdminContext, body: unknown): Promise<{ view: KeyView; secret: string }> {
  const req = parseBody(createBody, body);
  const config = ctx.config();
  if (config.keys.some((k) => k.id === req.id)) throw new TollgateError('key_id_taken', { id: req.id, detail: 'a key in the configuration' });
  const problem = keyProblems(req, config)[0];
  if (problem) throw invalidRequest(`${problem.param}: ${problem.message}.`, problem.param);
  const now = ctx.now();
  const expires = expiryMs(req.expires_at, now);
  const secret = newSecret();
  const key: ManagedKey = {
    id: req.id,
    sha256: sha256Hex(secret),
    hint: hintOf(secret),
    ...storedPrincipal(req, config),
    createdAt: now,
    revokedAt: null,
    previousSha256: null,
    previousUntil: null,
    expiresAt: expires,
    updatedAt: now,
  };
  if (!(await ctx.table.insertKey(key))) throw new TollgateError('key_id_taken', { id: req.id, detail: 'a key made through the API' });
  await ctx.apply();
  return { view: managedView(key, now), secret };
}

/** Every key: the configuration's, then the managed ones (revoked included), oldest first. */
export async function listKeys(ctx: KeyAdminContext): Promise<KeyView[]> {
  const config = ctx.config();
  const managed = await ctx.table.listKeys();
  const { skipped } = withManagedKeys(config, managed);
  const why = new Map(skipped.map((s) => [s.id, s.why]));
  return [...config.keys.map(configView), ...managed.map((m) => managedView(m, ctx.now(), why.get(m.id)))];
}

/** One key by id. */
export async function getKey(ctx: KeyAdminContext, id: string): Promise<KeyView> {
  const found = (await listKeys(ctx)).find((k) => k.id === id);
  if (!found) throw new TollgateError('key_not_found', { id });
  return found;
}

/** Revokes a managed key at once (here; on other instances at their next refresh). Revoking it again changes nothing. */
export async function revokeKey(ctx: KeyAdminContext, id: string): Promise<KeyView> {
  const key = await managedKey(ctx, id);
  if (key.revokedAt === null) {
    const now = ctx.now();
    await replace(ctx, { ...key, revokedAt: now, previousSha256: null, previousUntil: null, updatedAt: Math.max(now, key.updatedAt + 1) }, key);
  }
  return getKey(ctx, id);
}

/**
 * Changes whom a managed key stands for (its tier, project, groups, routes, ...), keeping its secret: its
 * calls count where the key now says from the next one on, here at once, elsewhere within a refresh.
 */
export async function updateKey(ctx: KeyAdminContext, id: string, body: unknown): Promise<KeyView> {
  const change = parseBody(updateBody, body);
  if (Object.keys(change).length === 0) throw invalidRequest('Send at least one field to change: organization, project, user, tier, groups, routes or expires_at (null clears one).');
  const key = await managedKey(ctx, id);
  if (key.revokedAt !== null) throw new TollgateError('key_revoked', { id });
  const { expires_at: expiry, ...principalChange } = change;
  const fields: Record<string, unknown> = { ...principalFields(key) };
  for (const [name, value] of Object.entries(principalChange)) {
    if (value === null) delete fields[name];
    else fields[name] = value;
  }
  // The whole key checked again as a new one would be (a tier without its user, a group twice, unknown names).
  const next = parseBody(createBody, { id, ...fields });
  const config = ctx.config();
  const problem = keyProblems(next, config)[0];
  if (problem) throw invalidRequest(`${problem.param}: ${problem.message}.`, problem.param);
  const now = ctx.now();
  const expiresAt = expiry === undefined ? key.expiresAt : expiry === null ? null : expiryMs(expiry, now);
  await replace(ctx, { ...key, ...storedPrincipal(next, config), expiresAt, updatedAt: Math.max(now, key.updatedAt + 1) }, key);
  return getKey(ctx, id);
}

/**
 * Gives a managed key a new secret. With `grace_seconds`, the old secret goes on working that long, so
 * clients can be moved to the new one without a moment refused; without, it stops at once.
 */
export async function rotateKey(ctx: KeyAdminContext, id: string, body: unknown): Promise<{ view: KeyView; secret: string }> {
  const { grace_seconds: grace } = parseBody(rotateBody, body ?? {});
  const key = await managedKey(ctx, id);
  if (key.revokedAt !== null) throw new TollgateError('key_revoked', { id });
  const secret = newSecret();
  const now = ctx.now();
  const previous = grace > 0 ? { previousSha256: key.sha256, previousUntil: now + grace * 1000 } : { previousSha256: null, previousUntil: null };
  await replace(ctx, { ...key, sha256: sha256Hex(secret), hint: hintOf(secret), ...previous, updatedAt: Math.max(now, key.updatedAt + 1) }, key);
  return { view: await getKey(ctx, id), secret };
}

/** Whom a key stands for, as the key table stores it (absent fields null; the only organization when none is named). */
function storedPrincipal(k: KeyPrincipalFields, config: Policy): Pick<ManagedKey, 'organization' | 'project' | 'user' | 'tier' | 'groups' | 'routes'> {
  return { organization: k.organization ?? onlyOrganization(config)!, project: k.project ?? null, user: k.user ?? null, tier: k.tier ?? null, groups: k.groups, routes: k.routes ?? null };
}

/** The longest a key may be made to last: ten years. */
const MAX_EXPIRY_MS = 10 * 365 * 86_400_000;

/** `expires_at` (Unix seconds) as epoch ms: in the future, and within ten years; null when not given. */
function expiryMs(seconds: number | undefined, now: number): number | null {
  if (seconds === undefined) return null;
  const ms = seconds * 1000;
  if (ms <= now) throw invalidRequest(`expires_at: ${seconds} (${new Date(ms).toISOString()}) has passed; give a time to come, in Unix seconds.`, 'expires_at');
  if (ms > now + MAX_EXPIRY_MS) throw invalidRequest(`expires_at: ${seconds} is more than ten years away; give Unix seconds (not milliseconds), or null for a key that does not expire.`, 'expires_at');
  return ms;
}

/** A managed key by id, or the error for a config key or no key. */
async function managedKey(ctx: KeyAdminContext, id: string): Promise<ManagedKey> {
  const key = (await ctx.table.listKeys()).find((k) => k.id === id);
  if (key) return key;
  if (ctx.config().keys.some((k) => k.id === id)) throw new TollgateError('key_in_config', { id });
  throw new TollgateError('key_not_found', { id });
}

async function replace(ctx: KeyAdminContext, next: ManagedKey, read: ManagedKey): Promise<void> {
  if (!(await ctx.table.replaceKey(next, read.updatedAt))) throw new TollgateError('key_changed', { id: read.id });
  await ctx.apply();
}

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) throw invalidRequest('Send a JSON object as the body.');
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  if (issue.code === 'unrecognized_keys') {
    const known = Object.keys((schema as unknown as { shape?: object }).shape ?? {});
    throw invalidRequest(`Unknown field \`${issue.keys[0]}\` (${didYouMean(issue.keys[0], known)}).`, issue.keys[0]);
  }
  const field = issue.path.join('.');
  throw invalidRequest(`${field ? `${field}: ` : ''}${issue.message}.`, field || undefined);
}

const seconds = (ms: number | null): number | null => (ms === null ? null : Math.floor(ms / 1000));

function configView(k: KeyPolicy): KeyView {
  return {
    object: 'tollgate.key',
    id: k.id,
    source: 'config',
    status: 'active',
    hint: null,
    organization: k.organization,
    project: k.project ?? null,
    user: k.user ?? null,
    tier: k.tier ?? null,
    groups: k.groups,
    routes: k.routes ?? null,
    created_at: null,
    revoked_at: null,
    previous_key_expires_at: null,
    expires_at: null,
  };
}

function managedView(m: ManagedKey, now: number, inactive?: string): KeyView {
  const graceOn = m.previousUntil !== null && m.revokedAt === null;
  const expired = m.expiresAt !== null && now >= m.expiresAt;
  return {
    object: 'tollgate.key',
    id: m.id,
    source: 'api',
    status: m.revokedAt !== null ? 'revoked' : expired ? 'expired' : inactive !== undefined ? 'inactive' : 'active',
    ...(inactive !== undefined && m.revokedAt === null ? { status_detail: inactive } : {}),
    hint: m.hint,
    organization: m.organization,
    project: m.project,
    user: m.user,
    tier: m.tier,
    groups: m.groups,
    routes: m.routes,
    created_at: seconds(m.createdAt),
    revoked_at: seconds(m.revokedAt),
    previous_key_expires_at: graceOn ? seconds(Math.min(m.previousUntil!, m.expiresAt ?? Infinity)) : null,
    expires_at: seconds(m.expiresAt),
  };
}
