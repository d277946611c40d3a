// A reload's load, off the event loop when it is large. Parsing 20,000 keys is seconds of CPU (most of it
// in the YAML library), and done on the event loop it stalled every request and stream in flight for as
// long. A worker thread does it instead; only copying the Policy back runs on the event loop.
import { statSync } from 'node:fs';
import { SHARE_ENV, Worker } from 'node:worker_threads';
import { ConfigError, type ConfigIssue } from './config-error.js';
import { loadPolicy } from './load-policy.js';
import type { Policy } from './policy.js';

// Below this a load takes tens of milliseconds (300 keys in 107 KB: 0.1 s), less than a worker takes to
// start (~0.25 s, which would delay every small reload for nothing).
const OFF_THREAD_BYTES = 64 * 1024;

// Under the test runner this file is TypeScript, and a worker cannot start from a .ts file: the load
// then runs on the calling thread (the gateway's reload tests run the built CLI, and so the worker).
const FROM_SOURCES = import.meta.url.endsWith('.ts');

/** What the worker posts back: the Policy, or why there is none. */
export type LoadedOffThread = { policy: Policy } | { issues: ConfigIssue[] } | { failure: string };

/**
 * Loads, merges, validates and compiles config files as loadPolicy does (reading process.env); a large
 * config in a worker thread. Rejects with a ConfigError listing every problem, as loadPolicy throws.
 */
export async function loadPolicyForReload(files: string[]): Promise<Policy> {
  if (FROM_SOURCES || totalBytes(files) < OFF_THREAD_BYTES) return loadPolicy(files, process.env);
  return loadInWorker(files);
}

function totalBytes(files: string[]): number {
  let bytes = 0;
  for (const file of files) {
    try {
      bytes += statSync(file).size;
    } catch {
      // Unreadable: loadPolicy says so, with the file's name.
    }
  }
  return bytes;
}

function loadInWorker(files: string[]): Promise<Policy> {
  return new Promise((resolve, reject) => {
    // SHARE_ENV: the worker reads the process's environment itself, as a load on the main thread does,
    // rather than a copy made on the main thread (which looks every variable up again: 0.27 s for 10,000).
    const worker = new Worker(new URL('./load-policy-worker.js', import.meta.url), { workerData: { files }, env: SHARE_ENV });
    // A stop need not wait for a reload that would be ignored anyway.
    worker.unref();
    worker.once('message', (answer: LoadedOffThread) => {
      if ('policy' in answer) resolve(answer.policy);
      else if ('issues' in answer) reject(new ConfigError(answer.issues));
      else reject(new Error(answer.failure));
    });
    worker.once('error', reject);
    // After a message or an error this settles nothing; without either (the thread ran out of memory) it is the only word.
    worker.once('exit', (code) => reject(new Error(`the configuration loader stopped without an answer (exit code ${code})`)));
  });
}
