// Regression from a security audit: a store URL whose password holds an unencoded `#` or `?`
// (`postgres://app:pa#ss@db/ledger`, a mistake the drivers refuse with "Invalid URL") was printed with its
// password whole: redactUrl took the `#` for the start of the fragment, so found no user part before it.
// `tollgate usage --ledger URL` prints the URL with the driver's error; `tollgate audit --url` too.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { redactUrl } from '../src/util/redact-url.js';
import { CLI } from './helpers/processes.js';

const SECRET = 'hunter2-SECRET';

describe('redactUrl with `#` or `?` in a password', () => {
  it('hides all of the password', () => {
    expect(redactUrl(`postgres://app:pa#${SECRET}@db:5432/ledger`)).toBe('postgres://app:***@db:5432/ledger');
    expect(redactUrl(`postgres://app:pa?${SECRET}@db/ledger?sslmode=require`)).toBe('postgres://app:***@db/ledger?sslmode=require');
    expect(redactUrl(`redis://:${SECRET}#x@cache:6379/0`)).toBe('redis://:***@cache:6379/0');
    expect(redactUrl(`rediss://user:p@ss#${SECRET}@cache:6380`)).toBe('rediss://user:***@cache:6380');
    expect(redactUrl(`http://admin:a#${SECRET}@gateway:4000`)).toBe('http://admin:***@gateway:4000');
  });

  it('still leaves a URL without a password as it is, `@` in its query or not', () => {
    expect(redactUrl('postgres://app@db/x?application_name=me@host')).toBe('postgres://app@db/x?application_name=me@host');
    expect(redactUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });
});

describe('tollgate usage --ledger with such a URL (built CLI)', () => {
  it('says it cannot open the ledger without printing the password', () => {
    const result = spawnSync(process.execPath, [CLI, 'usage', '--ledger', `postgres://app:pa#${SECRET}@127.0.0.1:1/ledger`, '--by', 'project'], { encoding: 'utf8', timeout: 20_000 });
    const output = result.stdout + result.stderr;
    expect(result.status).not.toBe(0);
    expect(output).toContain('cannot open the ledger postgres://app:***@127.0.0.1:1/ledger');
    expect(output).not.toContain(SECRET);
  });
});
