// V8 settings for the long-running gateway process.
import v8 from 'node:v8';
import vm from 'node:vm';

const PRETENURING_FLAG = '--allocation-site-pretenuring';

/**
 * Turns off V8's allocation-site pretenuring, unless the operator asked for it on the node command line
 * (node does not accept V8 flags like it in NODE_OPTIONS).
 *
 * V8 watches how many objects from each object or array literal survive a young-generation GC; when
 * most of them do, it allocates that literal's objects straight in the old generation from then on.
 * A gateway's request objects live only as long as their request, but when requests pile up (a cold
 * upstream at start, a burst, a slow provider) they all survive for a while, and V8 then pretenures
 * some of them. The decision does not come back: every later request allocates those objects in the
 * old generation, where they die, and their pointers to the request's young objects keep those alive
 * through each scavenge too. Measured at 500 req/s (`--trace-gc-nvp`, all nine limit kinds): a
 * gateway in that state carries ~3 KB per request through each scavenge and promotes it, against
 * ~0.7 KB; scavenges take 2-3x as long, and it uses ~10% more CPU per request at saturation. A
 * gateway whose upstream was cold while it warmed up fell into it 4 times out of 4, and 0 of 4 with
 * pretenuring off.
 */
export function turnOffPretenuring(): void {
  if (!process.execArgv.includes(PRETENURING_FLAG)) v8.setFlagsFromString('--no-allocation-site-pretenuring');
}

/**
 * One full garbage collection, run once start-up is done and before the first request.
 *
 * Start-up leaves tens of MB of garbage in the heap (reading a tokenizer's rank table allocates some
 * 200,000 short-lived strings and buffers per encoding), and V8 gives it back only when its memory
 * reducer runs, some 20 s after the process goes quiet. Until then every transient cost adds to it:
 * the first upstream responses make V8 compile undici's llhttp WebAssembly parser with its optimizing
 * tier, ~35 MB of compiler memory for a moment. Measured with the bench config: the process's peak RSS
 * over its first request went from 204 MB to 186-189 MB with this collection, which runs once.
 */
export function collectStartupGarbage(): void {
  // `gc` is offered to contexts created after the flag is set; the main context never sees it.
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
}
