// Parsers for the options the commands that listen share (`serve`, `mock-upstream`): a bad value is one
// line from commander and exit code 1, never a stack trace from `listen`.
import { InvalidArgumentError } from 'commander';
import { isListenHost } from '../config/listen-host.js';

/** Node's timers hold at most 2^31-1 ms (about 24.8 days); a longer delay would fire after 1 ms. */
export const MAX_DELAY_MS = 2_147_483_647;

/** A commander parser for a whole number from 0 to `max`, or a usage error naming the flag. */
export function wholeNumberOption(flag: string, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  const range = max === Number.MAX_SAFE_INTEGER ? ', 0 or more' : ` from 0 to ${max}`;
  return (value) => {
    const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
    if (n <= max) return n;
    throw new InvalidArgumentError(`${flag} must be a whole number${range}, not '${value}'.`);
  };
}

/** Parses `--port`: a whole number from 0 (any free port) to 65535, or a usage error. */
export const parsePort = wholeNumberOption('--port', 65535);

/** Parses `--host` as `server.host` is checked; whether the name resolves is found out when listening. */
export function parseHost(value: string): string {
  if (isListenHost(value)) return value;
  throw new InvalidArgumentError(`--host must be a host name or an IP address, not '${value}'.`);
}
