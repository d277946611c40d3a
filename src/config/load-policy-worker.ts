// The worker thread of load-for-reload.ts: loads the config files it is given and posts back the Policy,
// or the issues of the ConfigError (a class does not cross threads; its issues do).
import { parentPort, workerData } from 'node:worker_threads';
import { ConfigError } from './config-error.js';
import { loadPolicy } from './load-policy.js';
import type { LoadedOffThread } from './load-for-reload.js';

const { files } = workerData as { files: string[] };
let answer: LoadedOffThread;
try {
  answer = { policy: loadPolicy(files, process.env) };
} catch (err) {
  answer = err instanceof ConfigError ? { issues: err.issues } : { failure: err instanceof Error ? err.message : String(err) };
}
parentPort!.postMessage(answer);
