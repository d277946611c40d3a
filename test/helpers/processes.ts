// Starts real `tollgate` processes (the built CLI) for integration tests, and stops them afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(REPO_ROOT, 'dist/cli/index.js');

export interface RunningProcess {
  url: string;
  child: ChildProcess;
  output: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/**
 * Spawns `node dist/cli/index.js ...args` and resolves once it prints `listening on http://...`. One that
 * does not within `startMs` is killed (left running, it outlived the test run, and a busy host got busier).
 */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}, startMs = 15_000): Promise<RunningProcess> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, TOLLGATE_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out waiting for: tollgate ${args.join(' ')}\n${out}`));
    }, startMs);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1],
          child,
          output: () => out,
          stop: (signal = 'SIGTERM') =>
            new Promise((res) => {
              // A process already gone (exited, or killed by a signal: then exitCode stays null) fires no more 'exit'.
              if (child.exitCode !== null || child.signalCode !== null) return res(child.exitCode);
              child.once('exit', (code) => res(code));
              child.kill(signal);
            }),
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tollgate ${args.join(' ')} exited with ${code}\n${out}`));
    });
  });
}

/** Writes a config file into a fresh temp directory and returns its path. */
export function writeConfig(yaml: string, name = 'tollgate.yaml'): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'tollgate-test-'));
  const file = path.join(dir, name);
  writeFileSync(file, yaml);
  return file;
}
