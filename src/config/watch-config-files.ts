// Notices every change to the config files, however the editor saves them. fs.watch follows the file's
// inode, so it goes deaf after the first save that replaces the file (sed -i, vim, mv, a Kubernetes
// ConfigMap's symlink swap). Polling the path's stat follows symlinks and survives any number of
// replacements, for the cost of a stat per file every poll.
import { unwatchFile, watchFile, type Stats } from 'node:fs';

export interface WatchOptions {
  /** How often each path is stat'ed. */
  pollMs?: number;
  /** Quiet time after the last change before onChange runs, so a save made of several writes reloads once. */
  debounceMs?: number;
}

/** Calls `onChange(file)` once each burst of changes to any of `files` has settled; returns the function that stops watching. */
export function watchConfigFiles(files: readonly string[], onChange: (file: string) => void, opts: WatchOptions = {}): () => void {
  const { pollMs = 100, debounceMs = 200 } = opts;
  let timer: NodeJS.Timeout | undefined;
  const listeners = files.map((file) => {
    const listener = (current: Stats, previous: Stats): void => {
      if (!fileChanged(current, previous)) return;
      clearTimeout(timer);
      timer = setTimeout(() => onChange(file), debounceMs);
    };
    // Not persistent: watching alone must not keep the process alive.
    watchFile(file, { interval: pollMs, persistent: false }, listener);
    return { file, listener };
  });
  return () => {
    clearTimeout(timer);
    for (const { file, listener } of listeners) unwatchFile(file, listener);
  };
}

/**
 * Whether two stats of a path show different contents. A replaced file has a new inode; one written in
 * place a new mtime or size. A file that disappears (zeroed stats) and comes back counts twice, which the
 * debounce folds into one reload.
 */
export function fileChanged(a: Stats, b: Stats): boolean {
  return a.ino !== b.ino || a.dev !== b.dev || a.mtimeMs !== b.mtimeMs || a.ctimeMs !== b.ctimeMs || a.size !== b.size;
}
