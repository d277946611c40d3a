// Loading the `--config` files for a command that reports, not serves.
import { ConfigError, formatIssue, loadPolicy, type Policy } from '../config/index.js';

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
