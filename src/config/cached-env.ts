// Each read of process.env is a getenv(), which scans the whole environment: with one variable per
// key's secret (10,000 of them) a read took 12 µs, and copying the environment took 0.7 s (each name
// is looked up again). The YAML library reads process.env.LOG_TOKENS once per token it parses, so a
// config of 20,000 keys (1.4 million tokens) took 17 s more to load than with a small environment,
// every second of it blocking the event loop on a reload.

/**
 * Runs `work` (synchronous) with process.env replaced by a view of it that reads each variable once, and
 * gives it the env to read variables from: that view when `env` is process.env, else `env` itself. Writes
 * go through to the real environment. process.env is put back before anything else can run.
 */
export function withCachedProcessEnv<T>(env: NodeJS.ProcessEnv, work: (env: NodeJS.ProcessEnv) => T): T {
  const real = process.env;
  const view = cachedView(real);
  process.env = view;
  try {
    return work(env === real ? view : env);
  } finally {
    process.env = real;
  }
}

// The Proxy's own target is a blank object: with process.env itself as the target, every read would
// still look the name up there (the check that a proxy keeps its target's invariants), a getenv() again.
function cachedView(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const read = new Map<string, string | undefined>();
  const forget = (name: string | symbol): void => void (typeof name === 'string' && read.delete(name));
  return new Proxy<NodeJS.ProcessEnv>({}, {
    get(_blank, name) {
      if (typeof name !== 'string') return Reflect.get(env, name);
      if (read.has(name)) return read.get(name);
      const value = env[name];
      read.set(name, value);
      return value;
    },
    has: (_blank, name) => Reflect.has(env, name),
    ownKeys: () => Reflect.ownKeys(env),
    getOwnPropertyDescriptor: (_blank, name) => Reflect.getOwnPropertyDescriptor(env, name),
    set(_blank, name, value) {
      forget(name);
      return Reflect.set(env, name, value);
    },
    defineProperty(_blank, name, descriptor) {
      forget(name);
      return Reflect.defineProperty(env, name, descriptor);
    },
    deleteProperty(_blank, name) {
      forget(name);
      return Reflect.deleteProperty(env, name);
    },
  });
}
