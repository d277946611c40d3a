import { describe, expect, it } from 'vitest';
import { estimateInput } from './index.js';
import { imageTokens, type ImageRule } from './image-cost.js';
import { imageSizeFromBase64, imageSizeFromUrl } from './image-size.js';
import { dataUrl, gif, jpeg, png, webp } from './test-fixtures.js';

const GPT_4O: ImageRule = { kind: 'tiles', base: 85, tile: 170 };

/** Image tokens of a chat message with one image, as the difference from the same message without it. */
function chatImageCost(model: string, url: string, detail?: string): { exact: number; bound: number } {
  const msg = (parts: unknown[]) => ({ messages: [{ role: 'user', content: [{ type: 'text', text: 'What is in this image?' }, ...parts] }] });
  const base = estimateInput('chat', msg([]), model);
  const withImage = estimateInput('chat', msg([{ type: 'image_url', image_url: { url, ...(detail ? { detail } : {}) } }]), model);
  return { exact: withImage.exact() - base.exact(), bound: withImage.upperBound - base.upperBound };
}

describe('image headers', () => {
  it.each([
    ['png', png(1024, 768)],
    ['jpeg', jpeg(1024, 768)],
    ['jpeg behind 200 KB of EXIF', jpeg(1024, 768, 200_000)],
    ['gif', gif(1024, 768)],
    ['webp VP8', webp(1024, 768, 'VP8 ')],
    ['webp VP8L', webp(1024, 768, 'VP8L')],
    ['webp VP8X', webp(1024, 768, 'VP8X')],
  ])('reads width and height of a %s', (_name, bytes) => {
    expect(imageSizeFromBase64(bytes.toString('base64'))).toEqual({ width: 1024, height: 768 });
  });

  it('reads base64 with line breaks (MIME style) by decoding it whole', () => {
    const wrapped = jpeg(640, 480, 5000).toString('base64').replace(/.{76}/g, '$&\r\n');
    expect(imageSizeFromBase64(wrapped)).toEqual({ width: 640, height: 480 });
  });

  it('gives undefined for remote URLs, other formats and garbage', () => {
    expect(imageSizeFromUrl('https://example.com/cat.png')).toBeUndefined();
    expect(imageSizeFromUrl('data:image/svg+xml;base64,' + Buffer.from('<svg/>').toString('base64'))).toBeUndefined();
    expect(imageSizeFromUrl('data:image/png,notbase64')).toBeUndefined();
    expect(imageSizeFromBase64('!!!!')).toBeUndefined();
    expect(imageSizeFromBase64(png(10, 10).toString('base64').slice(0, 20))).toBeUndefined();
  });
});

describe('OpenAI image costs (documented examples)', () => {
  it('1024×1024 PNG data URL, high detail, gpt-4o: 765 (85 + 170 × 4 tiles)', () => {
    expect(chatImageCost('gpt-4o', dataUrl('image/png', png(1024, 1024)), 'high').exact).toBe(765);
  });

  it('low detail is 85 whatever the size', () => {
    expect(chatImageCost('gpt-4o', dataUrl('image/png', png(4000, 3000)), 'low').exact).toBe(85);
    expect(chatImageCost('gpt-4o', 'https://example.com/huge.jpg', 'low')).toEqual({ exact: 85, bound: 85 });
  });

  it('2048×4096 is resized to 1024×2048 then 768×1536: 6 tiles, 1105', () => {
    expect(imageTokens(GPT_4O, { width: 2048, height: 4096 }, 'high')).toBe(1105);
    expect(chatImageCost('gpt-4o', dataUrl('image/png', png(2048, 4096, false))).exact).toBe(1105);
  });

  it('auto (or missing) detail counts as high', () => {
    expect(chatImageCost('gpt-4o', dataUrl('image/jpeg', jpeg(1024, 1024)), 'auto').exact).toBe(765);
    expect(chatImageCost('gpt-4o', dataUrl('image/gif', gif(1024, 1024))).exact).toBe(765);
  });

  it('small images are not upscaled: 1 tile', () => {
    expect(imageTokens(GPT_4O, { width: 128, height: 64 }, 'high')).toBe(255);
  });

  it('remote URLs cost the family worst case: 8 tiles (gpt-4o: 1445)', () => {
    expect(chatImageCost('gpt-4o', 'https://example.com/cat.png')).toEqual({ exact: 1445, bound: 1445 });
    expect(chatImageCost('gpt-4o-mini', 'https://example.com/cat.png').exact).toBe(2833 + 5667 * 8);
  });

  it('uses each family table: 4o-mini, o-series, gpt-5, patch models', () => {
    const url = dataUrl('image/png', png(1024, 1024));
    expect(chatImageCost('gpt-4o-mini', url).exact).toBe(2833 + 5667 * 4);
    expect(chatImageCost('o3', url).exact).toBe(75 + 150 * 4);
    expect(chatImageCost('gpt-5', url).exact).toBe(70 + 140 * 4);
    expect(chatImageCost('gpt-4.1', url).exact).toBe(765);
    expect(chatImageCost('gpt-4.1-mini', url).exact).toBe(Math.ceil(1024 * 1.62));
    expect(chatImageCost('gpt-4.1-nano', url, 'low').exact).toBe(Math.ceil(1024 * 2.46)); // detail does not apply to patches
  });

  it('patch models: 32px patches, shrunk to at most 1536 (documented 1800×2400 → 1452 patches)', () => {
    expect(imageTokens({ kind: 'patches', multiplier: 1 }, { width: 1800, height: 2400 }, 'high')).toBe(1452);
    expect(imageTokens({ kind: 'patches', multiplier: 1.62 }, { width: 128, height: 64 }, 'high')).toBe(13);
    expect(imageTokens({ kind: 'patches', multiplier: 2.46 }, { width: 128, height: 64 }, 'high')).toBe(20);
    for (const [w, h] of [[8000, 8000], [10000, 33], [33, 10000], [4097, 3001]]) {
      expect(imageTokens({ kind: 'patches', multiplier: 1 }, { width: w, height: h }, 'high')).toBeLessThanOrEqual(1536);
    }
  });
});

describe('Anthropic and open-model image costs', () => {
  const message = (blocks: unknown[]) => ({ messages: [{ role: 'user', content: blocks }] });
  const cost = (model: string, source: unknown) =>
    estimateInput('messages', message([{ type: 'image', source }]), model).exact() - estimateInput('messages', message([]), model).exact();

  it('Claude ≤ 4.6: w·h/750 after fitting 1568 px, capped at 1650 (covers Anthropic\'s ~1600 table)', () => {
    const src = (w: number, h: number) => ({ type: 'base64', media_type: 'image/png', data: png(w, h, false).toString('base64') });
    expect(cost('claude-sonnet-4-5', src(1092, 1092))).toBe(1590); // Anthropic's table: 1092×1092 ≈ 1590
    expect(cost('claude-sonnet-4-5', src(200, 200))).toBe(64); // padded to 224×224: 8×8 patches of 28 px > 200·200/750 ≈ 54
    expect(cost('claude-sonnet-4-5', src(784, 1568))).toBe(1640); // the table's 1:2 maximum: ⌈784·1568/750⌉
    expect(cost('claude-sonnet-4-5', src(6000, 4000))).toBe(1650);
    expect(cost('claude-sonnet-4-5', { type: 'url', url: 'https://example.com/a.png' })).toBe(1650);
  });

  it('Claude ≥ 4.7 (and unknown Claude versions): up to 2576 px, capped at 5000', () => {
    const big = { type: 'base64', media_type: 'image/png', data: png(6000, 4000, false).toString('base64') };
    expect(cost('claude-opus-4-7', big)).toBeLessThanOrEqual(5000);
    expect(cost('claude-opus-4-7', big)).toBeGreaterThan(1650);
    expect(cost('claude-next', { type: 'file', file_id: 'f' })).toBe(5000);
  });

  it('open models: the largest common encoder cost, 16384 when the size is unknown', () => {
    expect(imageTokens({ kind: 'generic' }, undefined, 'low')).toBe(16_384);
    expect(imageTokens({ kind: 'generic' }, { width: 1024, height: 1024 }, 'high')).toBe(6404); // Llama 3.2: 4 tiles × 1601
    expect(imageTokens({ kind: 'generic' }, { width: 100, height: 100 }, 'high')).toBe(1601);
  });
});
