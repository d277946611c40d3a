// `tollgate serve` turns off V8's allocation-site pretenuring (gc-tuning.ts says why). Each case runs
// in its own node process: it makes V8 want to pretenure one object literal (its objects all survive
// thirty young-generation GCs), then counts where that literal's next 20,000 objects are allocated.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const tuning = resolve(fileURLToPath(new URL('../..', import.meta.url)), 'dist/server/gc-tuning.js');

const SCRIPT = `
import v8 from 'node:v8';
const { turnOffPretenuring } = await import(${JSON.stringify(tuning)});
if (process.env.TURN_OFF === '1') turnOffPretenuring();
const used = (name) => v8.getHeapSpaceStatistics().find((s) => s.space_name === name).space_used_size;
const make = (i) => ({ i, a: null, b: null });
let kept = [];
for (let round = 0; round < 30; round++) {
  for (let i = 0; i < 5000; i++) kept.push(make(i));
  globalThis.gc({ type: 'minor' });
}
kept = [];
globalThis.gc();
const old0 = used('old_space');
const young0 = used('new_space');
const fresh = new Array(20000);
for (let i = 0; i < fresh.length; i++) fresh[i] = make(i);
console.log(JSON.stringify({ old: used('old_space') - old0, young: used('new_space') - young0 }));
`;

/** Bytes by which the old and the young generation grew while the literal's objects were made. */
function growth(turnOff: boolean, nodeFlags: string[] = []): { old: number; young: number } {
  // Compiling on the main thread makes the optimized code (which applies pretenuring) exist when measured.
  const args = ['--expose-gc', '--no-concurrent-recompilation', ...nodeFlags, '--input-type=module', '-e', SCRIPT];
  const out = execFileSync(process.execPath, args, { env: { ...process.env, NODE_OPTIONS: '', TURN_OFF: turnOff ? '1' : '0' }, encoding: 'utf8' });
  return JSON.parse(out) as { old: number; young: number };
}

describe('turnOffPretenuring', () => {
  it("V8 pretenures a literal whose objects keep surviving, and that gateway's setting stops it", () => {
    // Without the setting, the control shows the workload really triggers pretenuring.
    const untouched = growth(false);
    expect(untouched.old).toBeGreaterThan(10 * Math.max(untouched.young, 1));
    const off = growth(true);
    expect(off.young).toBeGreaterThan(10 * Math.max(off.old, 1));
  });

  it('leaves pretenuring on when the operator asks for it on the command line', () => {
    const asked = growth(true, ['--allocation-site-pretenuring']);
    expect(asked.old).toBeGreaterThan(10 * Math.max(asked.young, 1));
  });
});

// Start-up garbage in the old generation stays until V8's memory reducer runs (~20 s of quiet): the
// collection before listening must free it, without handing `gc` to the gateway's own code.
const STARTUP_SCRIPT = `
import v8 from 'node:v8';
const { collectStartupGarbage } = await import(${JSON.stringify(tuning)});
let kept = [];
// ~30 MB of strings that live long enough to be promoted, as a rank table's parse leaves them.
for (let i = 0; i < 600000; i++) kept.push('rank ' + i + ' of a table read at start-up');
kept = null;
const before = v8.getHeapStatistics().used_heap_size;
collectStartupGarbage();
console.log(JSON.stringify({ freed: before - v8.getHeapStatistics().used_heap_size, gcVisible: typeof globalThis.gc }));
`;

describe('collectStartupGarbage', () => {
  it('frees the garbage start-up left in the heap, and keeps gc out of the main context', () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', STARTUP_SCRIPT], { env: { ...process.env, NODE_OPTIONS: '' }, encoding: 'utf8' });
    const { freed, gcVisible } = JSON.parse(out) as { freed: number; gcVisible: string };
    expect(freed).toBeGreaterThan(20 * 1024 * 1024);
    expect(gcVisible).toBe('undefined');
  });
});
