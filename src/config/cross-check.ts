// Checks that need the whole config at once: references between sections and uniqueness
// across files. Each finding carries the path of the field to blame, located later.
import { BUILT_IN_PROVIDER_NAMES } from './default-providers.js';
import type { TollgateConfig } from './schema.js';
import { sha256Hex } from './sha256.js';
import { didYouMean } from './suggest.js';

/** A problem at a path of the merged config. */
export interface Finding {
  path: (string | number)[];
  message: string;
}

/** Organization ids the config defines: `organizations` keys, or the single `default`. */
export function organizationIds(config: TollgateConfig): string[] {
  return config.organizations ? Object.keys(config.organizations) : ['default'];
}

/** Where a field is written (`base.yaml:12`), for messages that point at a second place. */
export type Locate = (path: (string | number)[]) => string | undefined;

/** Finds dangling references and duplicates across sections. */
export function crossCheck(config: TollgateConfig, locate: Locate = () => undefined): Finding[] {
  return [...checkRouteProviders(config), ...checkKeys(config, locate)];
}

function unknown(kind: string, name: string, known: string[]): string {
  return `unknown ${kind} \`${name}\` (${didYouMean(name, known)})`;
}

/** The wire format of a provider the config has (a built-in one's is its name). */
function providerType(config: TollgateConfig, name: string): string | undefined {
  return config.providers ? config.providers[name]?.type : name;
}

function checkRouteProviders(config: TollgateConfig): Finding[] {
  const providers = config.providers ? Object.keys(config.providers) : [...BUILT_IN_PROVIDER_NAMES];
  const findings: Finding[] = [];
  for (const [routeName, route] of Object.entries(config.routes)) {
    for (const list of ['chat_models', 'embedding_models'] as const) {
      (route[list] ?? []).forEach((m, i) => {
        const provider = m.model.slice(0, m.model.indexOf('/'));
        if (!providers.includes(provider)) {
          // The seed's routes name `openai/...` with no providers section; adding one for another
          // provider silently takes the built-in `openai` away.
          const replaced = config.providers !== undefined && (BUILT_IN_PROVIDER_NAMES as readonly string[]).includes(provider);
          const fix = replaced
            ? `a \`providers\` section replaces the built-in \`openai\` and \`anthropic\`: declare \`${provider}\` there too (\`${provider}: {type: ${provider}, api_key: \${${provider.toUpperCase()}_API_KEY}}\`)`
            : 'declare it under `providers`';
          findings.push({ path: ['routes', routeName, list, i, 'model'], message: `${unknown('provider', provider, providers)}; ${fix}` });
        } else if (list === 'embedding_models' && providerType(config, provider) === 'anthropic') {
          // The gateway refuses every such call (400 endpoint_not_supported): found here instead, at the model.
          findings.push({ path: ['routes', routeName, list, i, 'model'], message: `\`${provider}\` is an Anthropic provider, whose API has no embeddings endpoint: every call to this model would be refused; use an OpenAI-format provider for embeddings` });
        }
      });
    }
  }
  return findings;
}

/**
 * Whose each secret is, by SHA-256, to start the keys' duplicate check with: a client key that is also
 * the admin key reads every organization's spend, and a scraper holding the admin key as its metrics
 * token can read the admin API (docs/configuration.md asks for a separate secret).
 */
function secretOwners(config: TollgateConfig, findings: Finding[]): Map<string, string> {
  const owners = new Map<string, string>();
  const admin = config.server.admin_key;
  if (admin !== undefined) owners.set(sha256Hex(admin), '`server.admin_key`');
  const metrics = config.metrics.bearer_token;
  if (metrics === undefined) return owners;
  const hash = sha256Hex(metrics);
  const other = owners.get(hash);
  if (other !== undefined) findings.push({ path: ['metrics', 'bearer_token'], message: sameSecret(other) });
  else owners.set(hash, '`metrics.bearer_token`');
  return owners;
}

// Names the other owner, never the secret.
function sameSecret(owner: string): string {
  return `the same secret is already used by ${owner}`;
}

function checkKeys(config: TollgateConfig, locate: Locate): Finding[] {
  const findings: Finding[] = [];
  const orgs = organizationIds(config);
  const tiers = Object.keys(config.users);
  const projects = Object.keys(config.projects);
  const routes = Object.keys(config.routes);
  // Sets, not the lists' includes(): that scanned every project (tier, ...) again for each of 20,000 keys.
  const isOrg = new Set(orgs);
  const isTier = new Set(tiers);
  const isProject = new Set(projects);
  const isRoute = new Set(routes);
  const ids = new Map<string, number>();
  const hashes = secretOwners(config, findings);
  // The first key named: keys may come from several files, and `keys[0]` alone does not say which.
  const keyAt = (i: number) => {
    const where = locate(['keys', i]);
    return where === undefined ? `keys[${i}]` : `keys[${i}], at ${where}`;
  };
  config.keys.forEach((k, i) => {
    const at = (...rest: (string | number)[]) => ['keys', i, ...rest];
    const firstWithId = ids.get(k.id);
    if (firstWithId !== undefined) findings.push({ path: at('id'), message: `duplicate key id \`${k.id}\` (also ${keyAt(firstWithId)})` });
    else ids.set(k.id, i);
    const hash = k.key !== undefined ? sha256Hex(k.key) : k.key_sha256?.toLowerCase();
    if (hash !== undefined) {
      const other = hashes.get(hash);
      if (other !== undefined) findings.push({ path: at(k.key !== undefined ? 'key' : 'key_sha256'), message: sameSecret(other) });
      else hashes.set(hash, `key \`${k.id}\` (${keyAt(i)})`);
    }
    if (k.organization === undefined && orgs.length > 1) {
      findings.push({ path: at(), message: `\`organization\` is required when there are several organizations (${orgs.map((o) => `\`${o}\``).join(', ')})` });
    } else if (k.organization !== undefined && !isOrg.has(k.organization)) {
      findings.push({ path: at('organization'), message: unknown('organization', k.organization, orgs) });
    }
    if (k.tier !== undefined && !isTier.has(k.tier)) findings.push({ path: at('tier'), message: `${unknown('tier', k.tier, tiers)}; tiers are declared under \`users\`` });
    if (k.project !== undefined && !isProject.has(k.project)) findings.push({ path: at('project'), message: unknown('project', k.project, projects) });
    (k.routes ?? []).forEach((r, j) => {
      if (!isRoute.has(r)) findings.push({ path: at('routes', j), message: unknown('route', r, routes) });
    });
  });
  return findings;
}
