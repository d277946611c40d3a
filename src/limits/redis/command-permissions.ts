// A Redis user whose ACL refuses a command the counters need connects, answers PING, and then refuses
// every call (TIME: every script reads Redis's clock; EVAL / EVALSHA: every reservation is a script), so
// the gateway looked connected while it counted nothing and answered 503. Each connection is checked
// when it becomes ready by sending each command once: Redis checks a command's ACL before it runs it (and,
// on a cluster node, before it redirects it), and the keyed ones touch only a key of the check's own.
import { createHash } from 'node:crypto';
import { Cluster, type Redis } from 'ioredis';
import { isPermissionRefusal } from '../store-errors.js';
import { primaries, type RedisClient } from './redis-client.js';

/** The check's own key, with a hash tag no organization's keys use (theirs are `tg:{<org>}:<...>:<...>`). */
const KEY = 'tg:{tollgate}:acl-check';
const SCRIPT = 'return 1';

/** Every command the store sends or its scripts call (INFO is optional: lua-scripts.ts, eviction-policy.ts), with harmless arguments. */
const COMMANDS: ReadonlyArray<readonly [string, ...string[]]> = [
  ['eval', SCRIPT, '0'],
  // After the EVAL above this runs it again; a user refused EVAL gets NOSCRIPT, which is not a refusal.
  ['evalsha', createHash('sha1').update(SCRIPT).digest('hex'), '0'],
  ['time'],
  ['set', KEY, '1', 'PX', '60000'],
  ['get', KEY],
  ['incr', KEY],
  ['exists', KEY],
  ['pexpire', KEY, '60000'],
  ['del', KEY],
  ['hset', KEY, 'f', '1'],
  ['hmget', KEY, 'f'],
  ['hgetall', KEY],
  ['hdel', KEY, 'f'],
  ['del', KEY],
];

/** The commands the node's user may not run, each once; [] when it may run them all, or the node did not answer. */
async function refusedCommands(node: Redis): Promise<string[]> {
  const replies = await node.pipeline(COMMANDS.map((c) => [...c])).exec().catch(() => null);
  const refused = new Set<string>();
  replies?.forEach(([err], i) => {
    if (isPermissionRefusal(err)) refused.add(COMMANDS[i]![0]);
  });
  return [...refused];
}

/** The user the client logs in as (`default` when the URL names none). */
function userOf(client: RedisClient): string {
  const options = client instanceof Cluster ? client.options.redisOptions : client.options;
  return options?.username || 'default';
}

/**
 * Why the client's user cannot keep the counters: the commands Redis refuses it, and the ACL rule that
 * allows them; undefined when it may run them all. On a cluster each primary is asked (ACLs are per node).
 */
export async function permissionProblem(client: RedisClient): Promise<string | undefined> {
  const cluster = client instanceof Cluster;
  const problems: string[] = [];
  for (const node of primaries(client)) {
    const refused = await refusedCommands(node);
    if (refused.length === 0) continue;
    const where = cluster ? `${node.options.host}:${node.options.port}: ` : '';
    const user = userOf(client);
    problems.push(
      `${where}the Redis user ${user} may not run commands the counters need (NOPERM): ${refused.map((c) => c.toUpperCase()).join(', ')}; allow them with ACL SETUSER ${user} ${refused.map((c) => `+${c}`).join(' ')} (and in the ACL file, if Redis loads one)`,
    );
  }
  return problems.length > 0 ? problems.join('; ') : undefined;
}

/** Redis answers, but its user may not run what the counters need: the store cannot count (isUnavailable). */
export class CommandsRefusedError extends Error {
  constructor(problem: string) {
    super(problem);
    this.name = 'CommandsRefusedError';
  }
}
