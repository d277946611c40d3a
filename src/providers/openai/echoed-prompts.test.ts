// The echo of `echo: true` completions, taken off the text the gateway meters, however the server splits it.
import { describe, expect, it } from 'vitest';
import { EchoedPrompts } from './index.js';

describe('EchoedPrompts', () => {
  it('takes an echo off however it is split across pieces, then meters the rest', () => {
    const echoed = EchoedPrompts.of({ prompt: 'Hello there', echo: true })!;
    expect(['Hel', 'lo th', 'ere and', ' more'].map((p) => echoed.streamed(p))).toEqual(['', '', ' and', ' more']);
  });

  it('finds each choice its own prompt: choices by prompt, then n', () => {
    const echoed = EchoedPrompts.of({ prompt: ['ab', 'cd'], n: 2, echo: true })!;
    const parts = [0, 1, 2, 3].map((choice) => ({ choice, text: (choice < 2 ? 'ab' : 'cd') + `x${choice}` }));
    expect(echoed.streamed(parts)).toEqual(parts.map((p) => ({ choice: p.choice, text: `x${p.choice}` })));
  });

  it("takes a token array's first piece as its echo, and meters a text that is not the echo as it is", () => {
    const tokens = EchoedPrompts.of({ prompt: [[1, 2, 3]], echo: true })!;
    expect([' decoded prompt', ' answer'].map((p) => tokens.streamed(p))).toEqual(['', ' answer']);
    const normalised = EchoedPrompts.of({ prompt: 'Hi  there', echo: true })!;
    expect(normalised.streamed('Hi there!')).toBe('Hi there!');
  });

  it('reads without moving on when not committing (held frames are stepped again later)', () => {
    const echoed = EchoedPrompts.of({ prompt: 'Hello', echo: true })!;
    expect(echoed.streamed('Hello world', false)).toBe(' world');
    expect(echoed.streamed('Hello world')).toBe(' world');
    expect(echoed.streamed('Hello again')).toBe('Hello again');
  });

  it('strips whole answers of string prompts only, and is absent without echo', () => {
    expect(EchoedPrompts.of({ prompt: ['ab', [5, 6]], echo: true })!.whole([{ choice: 0, text: 'abX' }, { choice: 1, text: 'decoded Y' }])).toEqual([{ choice: 0, text: 'X' }, { choice: 1, text: 'decoded Y' }]);
    expect(EchoedPrompts.of({ prompt: 'ab' })).toBeUndefined();
  });
});
