import { mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { watchConfigFiles } from './watch-config-files.js';

const dirs: string[] = [];
const stops: Array<() => void> = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-watch-'));
  dirs.push(dir);
  return dir;
}

/** Watches `file` and resolves each time a change is reported. */
function watcher(file: string) {
  const seen: string[] = [];
  stops.push(watchConfigFiles([file], (f) => seen.push(f), { pollMs: 20, debounceMs: 50 }));
  return {
    seen,
    async until(count: number): Promise<void> {
      for (let i = 0; i < 100 && seen.length < count; i++) await new Promise((r) => setTimeout(r, 20));
      expect(seen).toHaveLength(count);
    },
  };
}

// As `sed -i`, vim and `mv` save: a new file renamed over the old one.
function replace(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

describe('watchConfigFiles', () => {
  it('sees every save that replaces the file, not only the first', async () => {
    const file = join(tempDir(), 'tollgate.yaml');
    writeFileSync(file, 'a: 1\n');
    const w = watcher(file);
    await new Promise((r) => setTimeout(r, 150)); // the first stat records the starting state
    replace(file, 'a: 2\n');
    await w.until(1);
    replace(file, 'a: 3\n');
    await w.until(2);
    replace(file, 'a: 4\n');
    await w.until(3);
    expect(w.seen).toEqual([file, file, file]);
  });

  it('sees writes in place, and folds a burst of them into one call', async () => {
    const file = join(tempDir(), 'tollgate.yaml');
    writeFileSync(file, 'a: 1\n');
    const w = watcher(file);
    await new Promise((r) => setTimeout(r, 150));
    writeFileSync(file, '');
    writeFileSync(file, 'a: 22\n');
    await w.until(1);
    await new Promise((r) => setTimeout(r, 150));
    expect(w.seen).toHaveLength(1);
  });

  it('follows a symlink swapped to a new target, as a Kubernetes ConfigMap update does', async () => {
    const dir = tempDir();
    for (const [version, text] of [['v1', 'a: 1\n'], ['v2', 'a: 2\n'], ['v3', 'a: 33\n']] as const) writeFileSync(join(dir, version), text);
    const file = join(dir, 'tollgate.yaml');
    symlinkSync(join(dir, 'v1'), file);
    const w = watcher(file);
    await new Promise((r) => setTimeout(r, 150));
    const swap = (target: string): void => {
      symlinkSync(join(dir, target), join(dir, 'next'));
      renameSync(join(dir, 'next'), file);
    };
    swap('v2');
    await w.until(1);
    swap('v3');
    await w.until(2);
  });
});
