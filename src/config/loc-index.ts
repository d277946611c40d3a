// Remembers where each mapping key and list item came from, so an error found later
// (by zod, by a cross-check, after merging several files) can still name file and line.

/** A place in a config file. */
export interface Loc {
  file: string;
  line: number;
}

type Segment = string | number;

/** Locations of the entries of parsed containers, attached to the container objects themselves. */
export class LocIndex {
  // Keyed by the container object: merging builds new containers and copies entries, so
  // whole subtrees taken from a later file keep their own locations without path rewriting.
  private readonly byContainer = new WeakMap<object, Map<Segment, Loc>>();

  /** Records where `container[key]` was written. */
  set(container: object, key: Segment, loc: Loc): void {
    let entries = this.byContainer.get(container);
    if (!entries) {
      entries = new Map();
      this.byContainer.set(container, entries);
    }
    entries.set(key, loc);
  }

  /** Where `container[key]` was written, if known. */
  get(container: object, key: Segment): Loc | undefined {
    return this.byContainer.get(container)?.get(key);
  }

  /**
   * The keys recorded for `container`, in the order they were written. A JS object lists names that look
   * like array indexes (`2024`) before all others, whatever the file says; the order of routes matters.
   */
  keysInOrder(container: object): Segment[] {
    return [...(this.byContainer.get(container)?.keys() ?? [])];
  }

  /** Location of the deepest existing field along `path` (a missing field reports its parent's line). */
  lookup(root: unknown, rootLoc: Loc, path: readonly PropertyKey[]): Loc {
    let loc = rootLoc;
    let node: unknown = root;
    for (const seg of path) {
      if (node === null || typeof node !== 'object' || typeof seg === 'symbol') break;
      const key: Segment = Array.isArray(node) && typeof seg === 'string' && /^\d+$/.test(seg) ? Number(seg) : seg;
      const found = this.get(node, key);
      if (!found) break;
      loc = found;
      node = (node as Record<Segment, unknown>)[key];
    }
    return loc;
  }
}
