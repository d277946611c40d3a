// Public surface of the config module; other modules import from here (and policy.ts types).
export { loadPolicy, loadPolicyFromTexts } from './load-policy.js';
export type { ConfigText, LoadOptions } from './load-policy.js';
export { ConfigError, formatIssue } from './config-error.js';
export type { ConfigIssue } from './config-error.js';
export { configSchema } from './schema.js';
export type { TollgateConfig, TollgateConfigInput } from './schema.js';
export { parseWindowSize } from './window-size.js';
export { isListenHost } from './listen-host.js';
export { sha256Hex } from './sha256.js';
export type * from './policy.js';
