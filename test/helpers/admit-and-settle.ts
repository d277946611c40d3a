// One call through the limits engine, admitted and settled at once as used: for tests of what a refusal says.
import type { Principal } from '../../src/auth/principal.js';
import { TollgateError } from '../../src/errors/tollgate-error.js';
import type { LimitsEngine } from '../../src/limits/engine.js';
import type { Target } from '../../src/routing/route-table.js';

/** Calls `ask(input, output)`: admits and settles at once; resolves with the 429/400 when refused. Ids end in `tag`. */
export function admitAndSettle(engine: LimitsEngine, principal: Principal, target: Target, tag: string): (input: number, output: number) => Promise<TollgateError | undefined> {
  let n = 0;
  return async (input, output) => {
    const id = `r${n++}-${tag}`;
    try {
      await engine.admit({ id, principal, target, input: { upperBound: input, exact: () => input }, output, outputFromClient: true });
    } catch (err) {
      if (err instanceof TollgateError) return err;
      throw err;
    }
    await engine.settle(id, { input, output, request: 1 });
    return undefined;
  };
}
