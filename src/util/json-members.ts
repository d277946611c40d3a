// Walking a parsed JSON value's object members, depth first and without recursion (JSON.parse accepts
// nesting deeper than the call stack), for the few checks that look for a key anywhere in a request body.

/** Calls `visit` with each object member of `value`, at any depth, until it returns true; whether one did. */
export function someMember(value: unknown, visit: (key: string, member: unknown) => boolean): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
      continue;
    }
    for (const [key, x] of Object.entries(v)) {
      if (visit(key, x)) return true;
      stack.push(x);
    }
  }
  return false;
}
