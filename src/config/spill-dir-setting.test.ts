// `ledger.spill_dir`: where rows the ledger cannot take are kept until the next start, or `false`.
import { describe, expect, it } from 'vitest';
import { issuesOf, load, ROUTE } from '../../test/helpers/config-texts.js';
import { settingsNeedingRestart } from './restart-settings.js';

describe('ledger.spill_dir', () => {
  it('is unset by default, and takes a directory or false', () => {
    expect(load(ROUTE).ledger.spillDir).toBeUndefined();
    expect(load(`ledger: {spill_dir: ./spill}\n${ROUTE}`).ledger.spillDir).toBe('./spill');
    expect(load(`ledger: {spill_dir: false}\n${ROUTE}`).ledger.spillDir).toBe(false);
  });

  it('refuses an empty directory, true, or a number', () => {
    const issue = (value: string): string => issuesOf(`ledger: {spill_dir: ${value}}\n${ROUTE}`).map((i) => `${i.path}: ${i.message}`).join('; ');
    expect(issue('" "')).toBe('ledger.spill_dir: must not be empty');
    expect(issue('true')).toMatch(/^ledger\.spill_dir: expected a string or `false`/);
    expect(issue('5')).toMatch(/^ledger\.spill_dir: expected a string or `false`, got a whole number/);
  });

  it('is read at start only: a reload that changes it says a restart is needed', () => {
    const running = load(`ledger: {spill_dir: ./a}\n${ROUTE}`);
    expect(settingsNeedingRestart(running, load(`ledger: {spill_dir: ./b}\n${ROUTE}`))).toEqual(['ledger.spill_dir']);
    expect(settingsNeedingRestart(running, load(`ledger: {spill_dir: ./a}\n${ROUTE}`))).toEqual([]);
  });
});
