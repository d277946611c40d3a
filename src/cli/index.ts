#!/usr/bin/env -S node --single-threaded-gc --v8-pool-size=1
// The `tollgate` command: each subcommand lives in its own file and only wires modules together.
import { Command } from 'commander';
import { registerServe } from './serve.js';
import { registerCheck } from './check.js';
import { registerMockUpstream } from './mock-upstream.js';
import { registerUsage } from './usage.js';
import { registerAudit } from './audit.js';
import { registerKeys } from './keys.js';
import { registerSimulate } from './simulate.js';

const program = new Command();
program.name('tollgate').description('LLM gateway with hierarchical token limits').version('0.1.0');
registerServe(program);
registerCheck(program);
registerMockUpstream(program);
registerUsage(program);
registerAudit(program);
registerKeys(program);
registerSimulate(program);
await program.parseAsync(process.argv);
