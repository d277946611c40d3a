// Reloads asked for while the gateway starts. Until `serve` could reload, a SIGHUP had Node's default
// action (the process died: a config reloader or `systemctl reload` racing a start killed it), and a config
// file saved between its load and the start of the watching was never applied (the watcher compares each
// stat with the one it took first, which already showed the new file): the gateway served the previous
// keys and limits, a removed key included, until the next save.
import { statSync, type Stats } from 'node:fs';
import { fileChanged, watchConfigFiles } from '../config/watch-config-files.js';

export interface EarlyReloads {
  /**
   * Hands reloads over to `reload` from now on (SIGHUP, and saves of the config files), and asks for one
   * at once if a SIGHUP came, or a file changed, since `holdReloadsDuringStart`.
   */
  handOver(reload: (why: string) => void): void;
}

/** Call before the config is first read: from then on, no SIGHUP ends the process, and no save is missed. */
export function holdReloadsDuringStart(files: readonly string[]): EarlyReloads {
  // Taken before the load, so a save during the load counts as a change too (one reload too many at worst).
  const loaded = files.map((file) => ({ file, stats: statOf(file) }));
  let hangupDuringStart = false;
  const hold = (): void => {
    hangupDuringStart = true;
  };
  process.on('SIGHUP', hold);
  return {
    handOver(reload) {
      process.off('SIGHUP', hold);
      process.on('SIGHUP', () => reload('SIGHUP'));
      // Watching first, then comparing: a save made between the two is seen by one or both, never by neither.
      watchConfigFiles(files, (file) => reload(`${file} changed`));
      const saved = loaded.find(({ file, stats }) => differs(stats, statOf(file)));
      if (saved) reload(`${saved.file} changed while the gateway started`);
      else if (hangupDuringStart) reload('SIGHUP (while the gateway started)');
    },
  };
}

function statOf(file: string): Stats | undefined {
  try {
    return statSync(file);
  } catch {
    return undefined; // gone (mid-save): a file that appears later differs from it
  }
}

function differs(a: Stats | undefined, b: Stats | undefined): boolean {
  if (a === undefined || b === undefined) return a !== b;
  return fileChanged(a, b);
}
