// Where a gateway spills its ledger rows by default, and which ledger its files belong to.
import { describe, expect, it } from 'vitest';
import { load, ROUTE } from '../../test/helpers/config-texts.js';
import { spillPlaceFor } from './ledger-spill.js';

const placeOf = (storage: string, ledger = '') => spillPlaceFor(load(`storage: ${storage}\n${ledger}${ROUTE}`), '/etc/tollgate');

describe('the spill place', () => {
  it('is beside the SQLite file, or ./data beside the config for PostgreSQL, or where spill_dir says', () => {
    expect(placeOf('{ledger: "sqlite:./db/ledger.db"}')?.dir).toBe('/etc/tollgate/db');
    expect(placeOf('{ledger: "postgres://u@db:5432/billing"}')?.dir).toBe('/etc/tollgate/data');
    expect(placeOf('{ledger: "postgres://u@db:5432/billing"}', 'ledger: {spill_dir: ../spill}\n')?.dir).toBe('/etc/spill');
    expect(placeOf('{ledger: "postgres://u@db:5432/billing"}', 'ledger: {spill_dir: /var/spill}\n')?.dir).toBe('/var/spill');
  });

  it('is none when turned off, or for an in-memory SQLite ledger', () => {
    expect(placeOf('{ledger: "postgres://u@db:5432/billing"}', 'ledger: {spill_dir: false}\n')).toBeUndefined();
    expect(placeOf('{ledger: "sqlite::memory:"}')).toBeUndefined();
  });

  it('tags PostgreSQL files by database, whatever host, port or user reaches it', () => {
    const tag = (url: string): string | undefined => placeOf(`{ledger: "${url}"}`)?.tag;
    const billing = tag('postgres://u@db-a:5432/billing');
    expect(tag('postgresql://v:secret@db-b:6432/billing')).toBe(billing);
    expect(tag('postgres://db-b/?dbname=billing&user=u')).toBe(billing);
    expect(tag('postgres://u@db-a:5432/other')).not.toBe(billing);
    expect(tag('sqlite:./billing')).not.toBe(billing);
  });
});
