// Every configuration problem becomes one ConfigIssue that points at a file and line,
// so `tollgate check` and start-up can print errors an editor can jump to.

/** One problem found in the configuration. */
export interface ConfigIssue {
  /** The file the offending field came from (after merging, the file that set it last). */
  file: string;
  /** 1-based line of the field; for a missing field, the line of its parent. */
  line: number;
  /** Dotted path of the field, e.g. `projects.production.daily_limit` or `keys[2].tier`; empty for a whole file. */
  path: string;
  message: string;
}

// Control characters a message may echo from a value (`"Europe/\nParis"`): a line break would start a line
// that names no file, and an escape sequence would reach the terminal.
const CONTROL = /[\x00-\x1f\x7f]/g;

/** Formats one issue as `file:line: path: message` (the path is left out when empty), on one line. */
export function formatIssue(issue: ConfigIssue): string {
  const where = `${issue.file}:${issue.line}:`;
  const message = issue.message.replace(CONTROL, (c) => JSON.stringify(c).slice(1, -1));
  return issue.path ? `${where} ${issue.path}: ${message}` : `${where} ${message}`;
}

/** Thrown by `loadPolicy` when any file is unreadable, malformed or invalid; carries every issue found. */
export class ConfigError extends Error {
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** Formats a path such as `['keys', 0, 'tier']` as `keys[0].tier`; odd keys are quoted (`pricing["openai/gpt-4o"]`). */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(String(seg))) out += out ? `.${String(seg)}` : String(seg);
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}
