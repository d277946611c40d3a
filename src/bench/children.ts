// Spawns the bench's child processes and guarantees they all die with the bench, even on error or Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../cli/node-flags.js';

const CLI = fileURLToPath(new URL('../cli/index.js', import.meta.url));
const READY = /listening on (https?:\/\/[^\s]+)/;
const START_TIMEOUT_MS = 20_000;
const live = new Set<ChildProcess>();

/** A started `tollgate` subcommand and the URL it printed. */
export interface CliProcess {
  name: string;
  pid: number;
  url: string;
  /** The last lines it wrote, for error messages. */
  tail(): string;
}

/** Keeps a child in the kill list until it exits. */
export function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/**
 * Runs `node dist/cli/index.js <args>` as the `tollgate` command runs (with its V8 settings), and resolves
 * once it prints `listening on <url>`. BENCH_NODE_FLAGS (space-separated, may be empty) replaces those
 * settings, to measure others.
 */
export function spawnCli(name: string, args: string[], env: Record<string, string> = {}): Promise<CliProcess> {
  const override = process.env.BENCH_NODE_FLAGS;
  const flags = override === undefined ? NODE_FLAGS : override.split(/\s+/).filter(Boolean);
  return spawnScript(name, CLI, args, env, flags);
}

/** Runs `node <flags> <script> <args>` and resolves once it prints `listening on <url>`. */
export function spawnScript(name: string, script: string, args: string[], env: Record<string, string> = {}, nodeFlags: readonly string[] = []): Promise<CliProcess> {
  const child = spawn(process.execPath, [...nodeFlags, script, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  const lines: string[] = [];
  const remember = (line: string): void => {
    lines.push(line);
    if (lines.length > 40) lines.shift();
  };
  const tail = (): string => lines.join('\n');
  // Both pipes are always drained: a full pipe would block the child's writes and distort the figures.
  createInterface({ input: child.stderr! }).on('line', remember);
  const out = createInterface({ input: child.stdout! });

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(`did not print "listening on" within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    const fail = (why: string): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      // Let the last stderr lines arrive before quoting them.
      setTimeout(() => reject(new Error(`${name} (${args.join(' ')}) ${why}\n${tail()}`)), 100);
    };
    child.once('exit', (code, signal) => fail(`exited (${signal ?? code}) before it was ready`));
    child.once('error', (err) => fail(`could not start: ${err.message}`));
    out.on('line', (line) => {
      remember(line);
      const m = READY.exec(line);
      if (m && child.pid !== undefined) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        child.removeAllListeners('error');
        child.once('exit', () => live.delete(child));
        resolve({ name, pid: child.pid, url: m[1]!.replace(/\/$/, ''), tail });
      }
    });
  });
}

/** Asks every child to stop, then SIGKILLs any still alive after `graceMs`. */
export async function stopAll(graceMs = 3000): Promise<void> {
  const waits = [...live].map(
    (child) =>
      new Promise<void>((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done();
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        child.once('exit', () => {
          clearTimeout(timer);
          done();
        });
        child.kill('SIGTERM');
      }),
  );
  await Promise.all(waits);
}

/** Synchronous last resort for `process.on('exit')`, where nothing can be awaited. */
export function killAllNow(): void {
  for (const child of live) child.kill('SIGKILL');
}
