// The `--config` option every subcommand takes, and loading it for a command that reports, not serves.
import { ConfigError, formatIssue, loadPolicy, type Policy } from '../config/index.js';

/** Repeatable: the files are merged in order, later ones win. */
export const CONFIG_FLAGS = '-c, --config <file>';

/**
 * Commander's collector for a repeated `--config`. No default value is given to commander (its help would
 * print `(default: [])`): the first file starts the list, and a command given none reads `config` as undefined.
 */
export function collectConfig(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * The merged config, or undefined once every problem is printed as `file:line: path: message`. A report
 * command names in `needs` the fields it reads: only their environment variables must be set (the
 * provider and client secrets it never uses are often not in its operator's shell).
 */
export function loadPolicyOrReport(files: string[], needs?: readonly string[]): Policy | undefined {
  try {
    return loadPolicy(files, process.env, needs ? { needs } : {});
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const issue of err.issues) console.error(formatIssue(issue));
    return undefined;
  }
}

/**
 * The message for bare arguments given to `tollgate <name>`, or undefined when there are none. A bare
 * `tollgate check tollgate.yaml` is a config file without its flag: it deserves the command that works
 * rather than commander's "too many arguments" (the command allows excess arguments to answer them).
 */
export function strayFilesMessage(name: string, args: readonly string[]): string | undefined {
  if (args.length === 0) return undefined;
  return `tollgate ${name}: config files are given with --config: tollgate ${name} ${args.map((file) => `--config ${file}`).join(' ')}`;
}
