// The in-process store runs the shared CounterStore contract (the Redis stores run the same bodies).
import { counterStoreContract } from './counter-store.contract.js';
import { MemoryCounterStore } from './memory-store.js';

counterStoreContract('memory', async (clock, timezone) => new MemoryCounterStore(clock, timezone));
