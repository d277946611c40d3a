// The orchestrator's handle on the load-generator child: send a job, await its result.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { track } from './children.js';
import type { LoadJob, LoadResult, WorkerReply, WorkerRequest } from './load-protocol.js';

const WORKER = fileURLToPath(new URL('./load-worker.js', import.meta.url));

/** Runs load jobs one at a time in a separate Node process. */
export class LoadClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: LoadResult) => void; reject: (e: Error) => void }>();

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (msg: WorkerReply) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.result) p.resolve(msg.result);
      else p.reject(new Error(`load worker: ${msg.error}`));
    });
    child.on('exit', (code, signal) => {
      for (const p of this.pending.values()) p.reject(new Error(`load worker exited (${signal ?? code})`));
      this.pending.clear();
    });
  }

  /** Forks dist/bench/load-worker.js. */
  static start(): LoadClient {
    const child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    track(child);
    return new LoadClient(child);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  run(job: LoadJob): Promise<LoadResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, job } satisfies WorkerRequest);
    });
  }

  close(): void {
    if (this.child.connected) this.child.disconnect();
  }
}
