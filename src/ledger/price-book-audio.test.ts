// Audio tokens at their own rates (OpenAI's audio models): the list's, a configured price's, and how
// they combine with cached input and the service tiers.
import { describe, expect, it } from 'vitest';
import { listPrice } from './list-prices.js';
import { PriceBook } from './price-book.js';
import type { Price } from '../config/policy.js';

const book = (configured: Array<[string, Price]> = []): PriceBook => new PriceBook(new Map(configured));

describe('audio pricing', () => {
  it('lists the audio models with their text and audio rates', () => {
    expect(listPrice('gpt-audio')).toEqual({ input: 2.5, output: 10, cachedInput: 2.5, cacheWrite: 2.5, audioInput: 32, audioOutput: 64 });
    expect(listPrice('gpt-audio-2025-08-28')).toEqual(listPrice('gpt-audio'));
    expect(listPrice('gpt-audio-1.5')).toMatchObject({ audioInput: 32, audioOutput: 64 });
    expect(listPrice('gpt-4o-audio-preview-2025-06-03')).toMatchObject({ input: 2.5, output: 10, audioInput: 40, audioOutput: 80 });
    expect(listPrice('gpt-4o-mini-audio-preview')).toMatchObject({ input: 0.15, output: 0.6, audioInput: 10, audioOutput: 20 });
    // Its page gives no audio rates: unpriced rather than priced as text.
    expect(listPrice('gpt-audio-mini')).toBeUndefined();
  });

  it('bills audio input and output at the audio rates and the rest as text', () => {
    // gpt-audio: 400 text input tokens at $2.50, 600 audio at $32; 100 text output at $10, 400 audio at $64.
    const usage = { input: 1000, cachedInput: 0, audioInput: 600, output: 500, audioOutput: 400 };
    expect(book().costParts('openai', 'gpt-audio', usage)).toEqual({ input: 400 * 2.5 + 600 * 32, output: 100 * 10 + 400 * 64 });
    expect(book().cost('openai', 'gpt-audio', usage)).toBeCloseTo(0.0468, 12);
    // The same counts as text only: what every call cost before audio had its rates (7.5x less here).
    expect(book().cost('openai', 'gpt-audio', { input: 1000, cachedInput: 0, output: 500 })).toBeCloseTo(0.0075, 12);
  });

  it('never bills a token twice: cached input stays at its rate and audio counts above the rest are clamped', () => {
    const usage = { input: 1000, cachedInput: 300, audioInput: 900, output: 50, audioOutput: 80 };
    // Audio is held to the 700 uncached input tokens, and to the 50 output tokens.
    expect(book().costParts('openai', 'gpt-4o-audio-preview', usage)).toEqual({ input: 300 * 2.5 + 700 * 40, output: 50 * 80 });
  });

  it('keeps the list audio rates in proportion for a configured price, and takes configured audio rates as given', () => {
    const usage = { input: 1_000_000, cachedInput: 0, audioInput: 1_000_000, output: 1_000_000, audioOutput: 1_000_000 };
    // A contract at 80% of gpt-audio's text rates: its audio at 80% of the list's too.
    expect(book([['openai/gpt-audio', { input: 2, output: 8 }]]).cost('openai', 'gpt-audio', usage)).toBeCloseTo(25.6 + 51.2, 9);
    expect(book([['openai/gpt-audio', { input: 2, output: 8, audioInput: 30, audioOutput: 60 }]]).cost('openai', 'gpt-audio', usage)).toBeCloseTo(90, 9);
    // A model the list does not know: audio rates only from config, else audio bills as text.
    expect(book([['local/speaker', { input: 1, output: 2, audioInput: 10, audioOutput: 20 }]]).cost('local', 'speaker', usage)).toBeCloseTo(30, 9);
    expect(book([['local/speaker', { input: 1, output: 2 }]]).cost('local', 'speaker', usage)).toBeCloseTo(3, 9);
  });

  it('scales the audio rates with the service tier', () => {
    const usage = { input: 1_000_000, cachedInput: 0, audioInput: 1_000_000, output: 1_000_000, audioOutput: 1_000_000, serviceTier: 'flex' as const };
    expect(book().cost('openai', 'gpt-audio', usage)).toBeCloseTo((32 + 64) / 2, 9);
  });
});
