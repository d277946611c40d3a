// What a config may say that is valid but probably not what its author meant: printed by `tollgate
// check` and logged at start and on reload, never refused. Each finding carries the path to blame.
import type { Finding } from './cross-check.js';
import type { TollgateConfig } from './schema.js';
import { typoDistance } from './suggest.js';

/** Findings worth a warning in a valid config. */
export function configWarnings(config: TollgateConfig): Finding[] {
  return [...groupTypos(config), ...notEnforcedYet(config), ...openMetrics(config), ...idleLeases(config)];
}

/** Budget leases save round trips to a shared store; in-memory counters have none to save. */
function idleLeases(config: TollgateConfig): Finding[] {
  if (config.storage.lease_ms === 0 || config.storage.counters !== 'memory') return [];
  return [{ path: ['storage', 'lease_ms'], message: '`lease_ms` has no effect with `counters: memory` (leases save round trips to a shared store)' }];
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * `/metrics` without `metrics.bearer_token` answers anyone: fine on loopback (a local Prometheus agent),
 * not on an address others reach, where it shows every organization's spend and headroom.
 */
function openMetrics(config: TollgateConfig): Finding[] {
  const host = config.server.host;
  if (!config.metrics.enabled || config.metrics.bearer_token !== undefined || LOOPBACK.has(host) || host.startsWith('127.')) return [];
  return [{ path: ['server', 'host'], message: `\`/metrics\` answers anyone who reaches ${host} and shows every organization's spend and headroom; set \`metrics.bearer_token\`` }];
}

/**
 * A key may name a group that has no limits (it still shares `scope: group` route limits with the
 * group's other keys), so an undeclared group is no error; one a typo away from a declared group
 * probably is one, and the key silently escapes that group's limits.
 */
function groupTypos(config: TollgateConfig): Finding[] {
  const declared = Object.keys(config.groups);
  const findings: Finding[] = [];
  config.keys.forEach((k, i) => {
    k.groups.forEach((g, j) => {
      if (declared.includes(g)) return;
      const near = declared.find((d) => typoDistance(d.toLowerCase(), g.toLowerCase()) <= Math.max(1, Math.floor(g.length / 4)));
      if (near !== undefined) {
        findings.push({ path: ['keys', i, 'groups', j], message: `group \`${g}\` is not declared under \`groups\`, so none of its limits apply; did you mean \`${near}\`?` });
      }
    });
  });
  return findings;
}

const STATUS = "(see the README's Status)";

/** Settings the schema accepts ahead of the features that will act on them: say so, once per kind. */
function notEnforcedYet(config: TollgateConfig): Finding[] {
  const findings: Finding[] = [];
  const rungs = config.alerts.map((a, i) => ({ a, i }));
  const acting = rungs.find(({ a }) => a.action !== 'warn');
  if (acting) findings.push({ path: ['alerts', acting.i, 'action'], message: `\`throttle\` and \`block\` are not acted on yet ${STATUS}: no call is slowed or refused by the alert ladder` });
  const notifying = rungs.find(({ a }) => (a.channels ?? []).length > 0);
  if (notifying) findings.push({ path: ['alerts', notifying.i, 'channels'], message: `alert notifications are not sent yet ${STATUS}; the dashboard lists the alerts` });
  const high = Object.entries(config.projects).find(([, p]) => p.priority === 'high');
  if (high) findings.push({ path: ['projects', high[0], 'priority'], message: `\`priority\` is not acted on yet ${STATUS}: every project is admitted alike` });
  const fallback = Object.entries(config.routes).find(([, r]) => (r.fallback ?? []).length > 0);
  if (fallback) findings.push({ path: ['routes', fallback[0], 'fallback'], message: `\`fallback\` is not acted on yet ${STATUS}: a blocked call is not sent to another model` });
  return findings;
}
