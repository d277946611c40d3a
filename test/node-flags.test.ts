// The `tollgate` command's V8 settings are written out in three places (node reads them only from its own
// command line): the list the bench spawns with, the command's shebang and `npm start`. They must agree,
// or the bench would measure a gateway other than the one that ships.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../src/cli/node-flags.js';

const root = new URL('../', import.meta.url);

describe('the V8 settings of the tollgate command', () => {
  it('are the shebang of the command', () => {
    const firstLine = readFileSync(new URL('src/cli/index.ts', root), 'utf8').split('\n')[0];
    expect(firstLine).toBe(`#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`);
    // tsc keeps the line, and the built command is what npm links as `tollgate`.
    expect(readFileSync(new URL('dist/cli/index.js', root), 'utf8').split('\n')[0]).toBe(firstLine);
  });

  it('are passed by npm start', () => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };
    expect(pkg.scripts.start).toContain(`node ${NODE_FLAGS.join(' ')} ${pkg.bin.tollgate} serve`);
  });

  it('are accepted by this node', () => {
    // An unknown or misspelt V8 flag would stop the command before it starts.
    const out = execFileSync(process.execPath, [...NODE_FLAGS, '-e', 'process.stdout.write(JSON.stringify(process.execArgv))'], { encoding: 'utf8' });
    expect((JSON.parse(out) as string[]).slice(0, NODE_FLAGS.length)).toEqual(NODE_FLAGS);
  });
});
