// What a config may say that is valid but probably not what its author meant: printed by `tollgate
// check` and logged at start and on reload, never refused. Each finding carries the path to blame.
import { listPrice } from '../ledger/list-prices.js';
import { isAudioModel } from '../providers/openai/unseen-billing.js';
import { organizationIds, type Finding } from './cross-check.js';
import type { TollgateConfig } from './schema.js';
import { typoDistance } from './suggest.js';

/** Findings worth a warning in a valid config. */
export function configWarnings(config: TollgateConfig): Finding[] {
  return [...groupTypos(config), ...userTiers(config), ...keysWithoutRoutes(config), ...pricingTypos(config), ...audioPricedAsText(config), ...notEnforcedYet(config), ...openMetrics(config), ...idleLeases(config)];
}

/**
 * A price for a model no route names, one typo away from one that has no price (`demo/gpt4o` for
 * `demo/gpt-4o`): that model is then priced from the built-in list prices, or not at all.
 */
function pricingTypos(config: TollgateConfig): Finding[] {
  const routed = new Set(Object.values(config.routes).flatMap((r) => [...(r.chat_models ?? []), ...(r.embedding_models ?? [])].map((m) => m.model)));
  const unpriced = [...routed].filter((m) => !Object.prototype.hasOwnProperty.call(config.pricing, m));
  return Object.keys(config.pricing).flatMap((priced) => {
    if (routed.has(priced)) return [];
    const near = unpriced.find((m) => typoDistance(m.toLowerCase(), priced.toLowerCase()) <= Math.max(1, Math.floor(priced.length / 6)));
    return near === undefined ? [] : [{ path: ['pricing', priced], message: `no route names the model \`${priced}\`, so this price applies to no call; did you mean \`${near}\`, which has no price?` }];
  });
}

/**
 * A price for what looks like an audio model, without audio rates here or in the built-in table (an Azure
 * deployment name, gpt-audio-mini): its audio tokens are then billed, and reserved, at the text rates,
 * which OpenAI's audio models charge 12.8-66x below their audio ones.
 */
function audioPricedAsText(config: TollgateConfig): Finding[] {
  return Object.entries(config.pricing).flatMap(([name, p]) => {
    const model = name.slice(name.indexOf('/') + 1);
    if (!isAudioModel(model) || p.audio_input !== undefined || p.audio_output !== undefined) return [];
    if (listPrice(model)?.audioInput !== undefined) return [];
    return [{ path: ['pricing', name], message: `\`${name}\` looks like an audio model, but no audio rates are known for it: its audio tokens are billed (and reserved) at the text rates; set \`audio_input\` and \`audio_output\`` }];
  });
}

/** `routes: []` lets a key call nothing (every call a 404): most likely meant as "all", which is `routes` left out. */
function keysWithoutRoutes(config: TollgateConfig): Finding[] {
  return config.keys.flatMap((k, i) =>
    k.routes !== undefined && k.routes.length === 0
      ? [{ path: ['keys', i, 'routes'], message: 'an empty list lets this key use no route (every call is refused); leave `routes` out to allow every route' }]
      : [],
  );
}

/**
 * A user's limits come from the tier of the key a call is made with, counted under the user. So a second
 * key of a user that names no tier escapes the user's limits, and one naming another tier checks the
 * same counters against other maximums: both are most likely a tier forgotten or mistyped on one key.
 */
function userTiers(config: TollgateConfig): Finding[] {
  const findings: Finding[] = [];
  // Users of different organizations are different users (their counters are apart).
  const [onlyOrg] = organizationIds(config);
  const userOf = (k: TollgateConfig['keys'][number]) => `${k.organization ?? onlyOrg}\u0000${k.user}`;
  const first = new Map<string, { id: string; tier: string }>();
  for (const k of config.keys) {
    if (k.user === undefined || k.tier === undefined) continue;
    if (!first.has(userOf(k))) first.set(userOf(k), { id: k.id, tier: k.tier });
  }
  config.keys.forEach((k, i) => {
    if (k.user === undefined) return;
    const known = first.get(userOf(k));
    if (known === undefined || known.tier === k.tier) return;
    const has = `user \`${k.user}\` has tier \`${known.tier}\` through key \`${known.id}\``;
    if (k.tier === undefined) {
      findings.push({ path: ['keys', i], message: `${has}, but this key names no tier: calls made with it are not held to the tier's limits; add \`tier: ${known.tier}\`` });
    } else {
      findings.push({ path: ['keys', i, 'tier'], message: `${has}: this key's tier \`${k.tier}\` checks the same per-user counters against other limits; give the user one tier` });
    }
  });
  return findings;
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
  const isDeclared = new Set(declared);
  const lowerDeclared = declared.map((d) => d.toLowerCase());
  // Searched once per name: 20,000 keys in a few undeclared groups (`scope: group` teams without limits of
  // their own) each compared against every declared group took 1.2 s of a load.
  const nearest = new Map<string, string | undefined>();
  const nearestTo = (g: string): string | undefined => {
    if (nearest.has(g)) return nearest.get(g);
    const lower = g.toLowerCase();
    const at = lowerDeclared.findIndex((d) => typoDistance(d, lower) <= Math.max(1, Math.floor(g.length / 4)));
    const near = at === -1 ? undefined : declared[at];
    nearest.set(g, near);
    return near;
  };
  const findings: Finding[] = [];
  config.keys.forEach((k, i) => {
    k.groups.forEach((g, j) => {
      if (isDeclared.has(g)) return;
      const near = nearestTo(g);
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
