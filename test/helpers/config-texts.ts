// Shared by the loadPolicy tests: one config text loaded as `tollgate.yaml`, and the issues it raises.
import { expect } from 'vitest';
import { ConfigError, loadPolicyFromTexts } from '../../src/config/index.js';
import type { ConfigIssue } from '../../src/config/index.js';

export function load(text: string, env: NodeJS.ProcessEnv = {}) {
  return loadPolicyFromTexts([{ file: 'tollgate.yaml', text }], env);
}

export function issuesOf(text: string, env: NodeJS.ProcessEnv = {}): ConfigIssue[] {
  return issuesOfFiles([['tollgate.yaml', text]], env);
}

/** The issues of several config files loaded together, in order, as `--config a --config b` does. */
export function issuesOfFiles(files: Array<[file: string, text: string]>, env: NodeJS.ProcessEnv = {}): ConfigIssue[] {
  try {
    loadPolicyFromTexts(files.map(([file, text]) => ({ file, text })), env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

/** A minimal route section, for configs that need one. */
export const ROUTE = `
routes:
  main:
    chat_models:
      - model_id: gpt-4o
        model: openai/gpt-4o
`;
