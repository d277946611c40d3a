// `tollgate keys create|update|list|show|revoke|rotate`: the admin API's managed keys (`/api/keys`) of a running
// gateway. A new secret goes to stdout alone (`KEY=$(tollgate keys create ci-bot --user ci)`), what to do
// with it to stderr; `--format json` prints the gateway's answer instead.
import type { Command } from 'commander';
import { oneLine, unreachableReason } from './audit-answer.js';
import { adminEndpoint, adminTarget, NOT_HTTP, type AdminTargetOptions } from './admin-target.js';
import { CONFIG_FLAGS, collectConfig } from './config-flags.js';
import type { KeyView } from '../auth/key-admin.js';

interface CommonOptions extends AdminTargetOptions {
  format: string;
  timeout: string;
}

interface CreateOptions extends CommonOptions {
  organization?: string;
  project?: string;
  user?: string;
  tier?: string;
  group: string[];
  route?: string[];
  expires?: string;
}

interface UpdateOptions extends Omit<CreateOptions, 'group'> {
  group?: string[];
  clear: string[];
}

const CLEARABLE = ['project', 'user', 'tier', 'groups', 'routes', 'expires'];

/** One failure line on stderr, exit 1. */
class KeysFailure extends Error {}

const repeat = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Registers `tollgate keys` and its subcommands. */
export function registerKeys(program: Command): void {
  const keys = program.command('keys').description("manage the keys made through a running gateway's admin API (kept in its ledger)");
  const common = (c: Command): Command =>
    c
      .option(CONFIG_FLAGS, "the gateway's config, for its address (server.host, server.port); repeat to merge several", collectConfig)
      .option('--url <url>', 'gateway address (default: server.host and server.port from the config)')
      .option('--admin-key <key>', 'admin key (default: $TOLLGATE_ADMIN_KEY)')
      .option('--format <format>', 'table or json', 'table')
      .option('--timeout <seconds>', 'give up when no complete answer came within this many seconds', '30');

  common(keys.command('create <id>').description('make a key; prints its secret once (stdout), which is kept nowhere'))
    .option('--organization <org>', 'its organization (required when there are several)')
    .option('--project <project>', 'its project')
    .option('--user <user>', 'its user (default: the key id)')
    .option('--tier <tier>', 'its user tier (one of users.<tier>; needs --user)')
    .option('--group <group>', 'a group it belongs to (repeat for several)', repeat, [])
    .option('--route <route>', 'a route it may use (repeat for several; default: all)', repeat)
    .option('--expires <when>', 'when it stops working: in 30d, 12h, 90m, or at an ISO date or date-time (default: never)')
    .action((id: string, opts: CreateOptions) =>
      run(opts, async (ask) => {
        const body = { id, groups: opts.group, ...pick(opts, ['organization', 'project', 'user', 'tier']), ...(opts.route ? { routes: opts.route } : {}), ...expiry(opts.expires) };
        return printSecret(opts, await ask('POST', '/api/keys', body), 'created');
      }),
    );
  common(keys.command('update <id>').description("change whom a key made through the API stands for, keeping its secret (the options given replace the key's; --clear removes one)"))
    .option('--organization <org>', 'its organization')
    .option('--project <project>', 'its project')
    .option('--user <user>', 'its user')
    .option('--tier <tier>', 'its user tier')
    .option('--group <group>', 'a group it belongs to (repeat for several; replaces its groups)', repeat)
    .option('--route <route>', 'a route it may use (repeat for several; replaces its routes)', repeat)
    .option('--expires <when>', 'when it stops working: in 30d, 12h, 90m, or at an ISO date or date-time')
    .option('--clear <field>', 'remove one: project, user, tier, groups, routes (all again) or expires (never); repeat for several', repeat, [])
    .action((id: string, opts: UpdateOptions) =>
      run(opts, async (ask) => {
        const body: Record<string, unknown> = { ...pick(opts, ['organization', 'project', 'user', 'tier']), ...(opts.group ? { groups: opts.group } : {}), ...(opts.route ? { routes: opts.route } : {}), ...expiry(opts.expires) };
        for (const field of opts.clear) {
          if (!CLEARABLE.includes(field)) throw new KeysFailure(`--clear takes ${CLEARABLE.join(', ')}, not '${field}'`);
          body[field === 'expires' ? 'expires_at' : field] = field === 'groups' ? [] : null;
        }
        const key = keyOf(await ask('PATCH', `/api/keys/${encodeURIComponent(id)}`, body));
        console.log(opts.format === 'json' ? JSON.stringify(key, null, 2) : renderKeys([key]));
      }),
    );
  common(keys.command('list').description('list every key: the config\'s and those made through the API, revoked ones included')).action((opts: CommonOptions) =>
    run(opts, async (ask) => {
      const answer = (await ask('GET', '/api/keys')) as { data?: KeyView[] };
      if (!Array.isArray(answer.data)) throw new KeysFailure("the answer holds no list of keys: is this the gateway's address?");
      console.log(opts.format === 'json' ? JSON.stringify(answer, null, 2) : renderKeys(answer.data));
    }),
  );
  common(keys.command('show <id>').description('show one key')).action((id: string, opts: CommonOptions) =>
    run(opts, async (ask) => {
      const key = keyOf(await ask('GET', `/api/keys/${encodeURIComponent(id)}`));
      console.log(opts.format === 'json' ? JSON.stringify(key, null, 2) : renderKeys([key]));
    }),
  );
  common(keys.command('revoke <id>').description('revoke a key made through the API: refused at once on this gateway, on the others within storage.key_refresh_ms')).action(
    (id: string, opts: CommonOptions) =>
      run(opts, async (ask) => {
        const key = keyOf(await ask('DELETE', `/api/keys/${encodeURIComponent(id)}`));
        console.log(opts.format === 'json' ? JSON.stringify(key, null, 2) : `revoked key ${key.id}`);
      }),
  );
  common(keys.command('rotate <id>').description('give a key made through the API a new secret (stdout); the old one stops at once, or after --grace'))
    .option('--grace <duration>', 'how long the old secret keeps working: seconds, or 90s, 30m, 12h, 7d (at most 7d)', '0')
    .action((id: string, opts: CommonOptions & { grace: string }) =>
      run(opts, async (ask) => {
        const grace = durationSeconds(opts.grace);
        if (grace === undefined) throw new KeysFailure(`--grace must be a duration such as 3600, 90s, 30m, 12h or 7d, not '${opts.grace}'`);
        return printSecret(opts, await ask('POST', `/api/keys/${encodeURIComponent(id)}/rotate`, { grace_seconds: grace }), 'rotated');
      }),
    );
}

type Ask = (method: string, path: string, body?: unknown) => Promise<unknown>;

/** Runs one subcommand against the gateway; every failure is one line on stderr and exit 1. */
async function run(opts: CommonOptions, work: (ask: Ask) => Promise<void>): Promise<void> {
  try {
    if (!['table', 'json'].includes(opts.format)) throw new KeysFailure(`--format must be table or json, not '${opts.format}'`);
    const timeoutSeconds = Number(opts.timeout);
    if (!(timeoutSeconds > 0 && timeoutSeconds <= 3600)) throw new KeysFailure(`--timeout must be a number of seconds (at most 3600), not '${opts.timeout}'`);
    const target = await adminTarget(opts);
    if (target === undefined) return void (process.exitCode = 1);
    if ('problem' in target) throw new KeysFailure(target.problem);
    await work(async (method, path, body) => {
      const where = adminEndpoint(target.url, path);
      if (where === undefined) throw new KeysFailure(`--url ${target.url}: ${NOT_HTTP}`);
      let res: Response;
      let text: string;
      try {
        const headers: Record<string, string> = { authorization: `Bearer ${target.key}` };
        if (body !== undefined) headers['content-type'] = 'application/json';
        res = await fetch(where, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(timeoutSeconds * 1000) });
        text = await res.text();
      } catch (err) {
        throw new KeysFailure(`cannot reach ${where}: ${unreachableReason(err, timeoutSeconds)}`);
      }
      return answerOf(res, text, where);
    });
  } catch (err) {
    if (!(err instanceof KeysFailure)) throw err;
    console.error(`tollgate keys: ${err.message}`);
    process.exitCode = 1;
  }
}

/** The JSON the gateway answered, or the failure its answer says (its own error message when it sent one). */
function answerOf(res: Response, text: string, where: string): unknown {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new KeysFailure(`${where} answered HTTP ${res.status} without JSON: is this the gateway's address?`);
  }
  if (res.ok) return body;
  const message = (body as { error?: { message?: unknown } } | null)?.error?.message;
  throw new KeysFailure(typeof message === 'string' ? `HTTP ${res.status}: ${oneLine(message)}` : `${where} answered HTTP ${res.status}: is this the gateway's address?`);
}

function keyOf(answer: unknown): KeyView {
  const key = answer as KeyView | null;
  if (typeof key?.id !== 'string' || key.object !== 'tollgate.key') throw new KeysFailure("the answer is not a key: is this the gateway's address?");
  return key;
}

/** A new secret on stdout alone; the rest on stderr, so the secret can be captured by a script. */
function printSecret(opts: CommonOptions, answer: unknown, done: string): void {
  const key = keyOf(answer) as KeyView & { key?: unknown };
  if (typeof key.key !== 'string') throw new KeysFailure('the answer holds no secret');
  if (opts.format === 'json') return console.log(JSON.stringify(key, null, 2));
  console.log(key.key);
  const grace = key.previous_key_expires_at !== null ? `; the old secret works until ${new Date(key.previous_key_expires_at * 1000).toISOString()}` : '';
  console.error(`${done} key ${key.id}${grace}. Store the secret above now: it is shown once and kept nowhere.`);
}

function renderKeys(keys: KeyView[]): string {
  const expires = (k: KeyView): string => (k.expires_at === null || k.expires_at === undefined ? '-' : new Date(k.expires_at * 1000).toISOString());
  const rows = keys.map((k) => [k.id, k.source, k.status, k.hint ?? '-', k.organization, k.project ?? '-', k.user ?? '-', k.tier ?? '-', k.groups.join(',') || '-', k.routes?.join(',') ?? 'all', expires(k)]);
  const header = ['id', 'source', 'status', 'hint', 'organization', 'project', 'user', 'tier', 'groups', 'routes', 'expires'];
  const widths = header.map((h, i) => rows.reduce((w, r) => Math.max(w, r[i].length), h.length));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

/** `expires_at` (Unix seconds) for `--expires`: a time from now (`30d`, `12h`, `90m`) or an ISO date or date-time. */
function expiry(when: string | undefined): { expires_at?: number } {
  if (when === undefined) return {};
  const relative = /^[0-9]+[smhd]$/.test(when.trim()) ? durationSeconds(when) : undefined;
  const at = relative !== undefined ? Date.now() + relative * 1000 : /^\d{4}-\d{2}-\d{2}/.test(when) ? Date.parse(when) : NaN;
  if (!Number.isFinite(at)) throw new KeysFailure(`--expires must be a time from now such as 30d, 12h or 90m, or an ISO date such as 2027-01-31, not '${when}'`);
  return { expires_at: Math.floor(at / 1000) };
}

/** Seconds in `90`, `90s`, `30m`, `12h` or `7d`; undefined for anything else. */
export function durationSeconds(text: string): number | undefined {
  const m = /^([0-9]{1,7})([smhd]?)$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
}

function pick<T extends object, K extends keyof T>(o: T, names: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const n of names) if (o[n] !== undefined) out[n] = o[n];
  return out;
}
