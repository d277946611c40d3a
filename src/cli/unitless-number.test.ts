import { describe, expect, it } from 'vitest';
import { unitlessNumber } from './unitless-number.js';

describe('unitlessNumber', () => {
  // Regression (QA): `--since 7` reported from 2001-07-01, `--since 0` from 2000-01-01, with exit 0.
  it('refuses a bare number as the parser refuses other unreadable text, suggesting the unit', () => {
    expect(unitlessNumber('7')).toBe("cannot read time '7': a number needs its unit, such as 7d (days), 7h, 7m or 7w");
    expect(unitlessNumber(' 12 ')).toBe("cannot read time ' 12 ': a number needs its unit, such as 12d (days), 12h, 12m or 12w");
    for (const text of ['0', '30', '2026', '-1', '+7', '7.5']) expect(unitlessNumber(text)).toMatch(/^cannot read time '.*': a number needs its unit/);
  });

  it('leaves every other text to the parser', () => {
    for (const text of ['7d', '24h', '0d', 'today', '2026-05-01', '2026-05-01T10:00:00Z', 'not a time']) expect(unitlessNumber(text)).toBeUndefined();
  });
});
