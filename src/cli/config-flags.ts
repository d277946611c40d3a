// The `--config` option every subcommand takes. Kept apart from loading the config (config-files.ts), so
// that registering the commands reads none of the config schema: `tollgate --version`, `--help` and the
// commands that never load a config start without it.

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
 * The message for bare arguments given to `tollgate <name>`, or undefined when there are none. A bare
 * `tollgate check tollgate.yaml` is a config file without its flag: it deserves the command that works
 * rather than commander's "too many arguments" (the command allows excess arguments to answer them).
 */
export function strayFilesMessage(name: string, args: readonly string[]): string | undefined {
  if (args.length === 0) return undefined;
  return `tollgate ${name}: config files are given with --config: tollgate ${name} ${args.map((file) => `--config ${file}`).join(' ')}`;
}
