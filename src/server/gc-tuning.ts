// V8 settings for the long-running gateway process.
import v8 from 'node:v8';

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
