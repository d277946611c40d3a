import { describe, expect, it } from 'vitest';
import { driverUrl } from './libpq-url.js';

describe('driverUrl', () => {
  it('moves libpq credentials from the query into the userinfo and path, encoded, and keeps other parameters', () => {
    const url = new URL(driverUrl('postgres://db.internal:5433/?dbname=ledger&user=tollgate&password=p%40ss%2Fw%3Ard&sslmode=require'));
    expect([decodeURIComponent(url.username), decodeURIComponent(url.password), url.pathname, url.host]).toEqual(['tollgate', 'p@ss/w:rd', '/ledger', 'db.internal:5433']);
    expect([...url.searchParams]).toEqual([['sslmode', 'require']]);
  });

  it('leaves a URL without them as written', () => {
    const text = 'postgres://u:p@host/db?sslmode=disable';
    expect(driverUrl(text)).toBe(text);
    expect(driverUrl('not a url')).toBe('not a url');
  });
});
