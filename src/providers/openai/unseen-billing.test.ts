import { describe, expect, it } from 'vitest';
import { bringsHiddenInput, fullGrantUsage, predictionText, runsInBackground } from './unseen-billing.js';

const tools = (...types: string[]) => ({ model: 'm', input: 'hi', tools: types.map((type) => ({ type })) });

describe('bringsHiddenInput', () => {
  it('knows the Responses built-in tools (dated versions too) and prompt templates, not client-executed tools', () => {
    for (const type of ['web_search', 'web_search_preview', 'web_search_preview_2025_03_11', 'web_search_2025_08_26', 'file_search', 'mcp', 'code_interpreter', 'image_generation']) {
      expect(bringsHiddenInput('responses', tools('function', type), 'gpt-4.1')).toBe(true);
    }
    for (const type of ['function', 'computer_use_preview', 'local_shell', 'custom']) expect(bringsHiddenInput('responses', tools(type), 'gpt-4.1')).toBe(false);
    expect(bringsHiddenInput('responses', { model: 'm', prompt: { id: 'pmpt_1' } }, 'gpt-4.1')).toBe(true);
    expect(bringsHiddenInput('responses', { model: 'm', input: 'hi', prompt: null }, 'gpt-4.1')).toBe(false);
  });

  it('knows chat search models and web_search_options, and earlier audio only on audio models', () => {
    const chat = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
    expect(bringsHiddenInput('chat', chat, 'gpt-4o-search-preview-2025-03-11')).toBe(true);
    expect(bringsHiddenInput('chat', chat, 'gpt-5-search-api')).toBe(true);
    expect(bringsHiddenInput('chat', { ...chat, web_search_options: {} }, 'gpt-4.1')).toBe(true);
    expect(bringsHiddenInput('chat', chat, 'gpt-4.1')).toBe(false);
    const spoken = { model: 'm', messages: [{ role: 'assistant', audio: { id: 'audio_1' } }, { role: 'user', content: 'more' }] };
    expect(bringsHiddenInput('chat', spoken, 'gpt-4o-audio-preview')).toBe(true);
    expect(bringsHiddenInput('chat', spoken, 'gpt-audio')).toBe(true);
    expect(bringsHiddenInput('chat', chat, 'gpt-4o-audio-preview')).toBe(false);
    // Tools on other endpoints are not OpenAI's built-in ones.
    expect(bringsHiddenInput('completions', tools('web_search'), 'gpt-4.1')).toBe(false);
  });
});

describe('the other unseen-billing helpers', () => {
  it('reads a prediction as a string or text parts', () => {
    expect(predictionText({ prediction: { type: 'content', content: 'abc' } })).toBe('abc');
    expect(predictionText({ prediction: { type: 'content', content: [{ type: 'text', text: 'a' }, { type: 'other' }, { type: 'text', text: 'b' }] } })).toBe('ab');
    expect(predictionText({})).toBe('');
  });

  it('charges a background call its whole reservation, or more where the provider reported more', () => {
    expect(runsInBackground('responses', { background: true })).toBe(true);
    expect(runsInBackground('responses', { background: false })).toBe(false);
    expect(runsInBackground('chat', { background: true })).toBe(false);
    expect(fullGrantUsage({ input: 100, output: 1000 })).toEqual({ input: 100, output: 1000, cachedInput: 0, source: 'estimated' });
    expect(fullGrantUsage({ input: 100, output: 1000 }, { input: 120, output: 30, cachedInput: 50, source: 'provider' })).toEqual({ input: 120, output: 1000, cachedInput: 50, source: 'estimated' });
  });
});
