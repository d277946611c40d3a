// Image costs of the newer OpenAI models must never be estimated below what OpenAI bills for them.
// gpt-5.2 and later are patch models with a larger budget (2,500 patches at `high`, 10,000 at
// `detail: "original"`), billed ~1.2× per patch (community measurements on gpt-5.4, 5.4-mini/nano, 5.2,
// 5.3-codex: a 1600×1600 image = 50×50 patches). Before, every gpt-5.x name got gpt-5's tile table, whose
// worst case (1,190) is a tenth of one "original" image (12,000).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { estimateInput, type Endpoint } from '../src/tokens/index.js';
import { dataUrl, png } from '../src/tokens/test-fixtures.js';

/** What an image adds to a request: [upperBound, exact()] of the body with it minus the body without it. */
function imageCost(endpoint: Endpoint, model: string, url: string, detail?: string): [number, number] {
  const part = endpoint === 'responses' ? { type: 'input_image', image_url: url, detail } : { type: 'image_url', image_url: { url, detail } };
  const body = (content: unknown[]) =>
    endpoint === 'responses' ? { input: [{ role: 'user', content }] } : { messages: [{ role: 'user', content }] };
  const withImage = estimateInput(endpoint, body([part]), model);
  const without = estimateInput(endpoint, body([]), model);
  return [withImage.upperBound - without.upperBound, withImage.exact() - without.exact()];
}

/** The reference patch count: 32 px patches when they fit the budget (no shrink needed). */
const patchCount = (w: number, h: number) => Math.ceil(w / 32) * Math.ceil(h / 32);

const LATER = ['gpt-5.2', 'gpt-5.2-2025-12-11', 'gpt-5.3-codex', 'gpt-5.4', 'gpt-5.4-2026-03-05', 'gpt-5.4-pro', 'gpt-5.4-mini', 'gpt-5.4-nano', 'openai/gpt-5.5'];
const REMOTE = 'https://example.com/scan.png';

describe('image bounds of gpt-5.2 and later', () => {
  it('a 1600×1600 image at high detail covers 2,500 patches × 1.2 (billed 3,000 on gpt-5.4 and gpt-5.4-mini)', () => {
    const url = dataUrl('image/png', png(1600, 1600, false));
    for (const model of LATER) {
      for (const endpoint of ['chat', 'responses'] as const) {
        const [bound, exact] = imageCost(endpoint, model, url, 'high');
        expect(exact, `${model} ${endpoint}`).toBeGreaterThanOrEqual(Math.ceil(2500 * 1.2));
        expect(bound, `${model} ${endpoint}`).toBeGreaterThanOrEqual(exact);
      }
    }
  });

  it('detail "original" covers up to 10,000 patches × 1.2, and a remote image the whole budget', () => {
    const url = dataUrl('image/png', png(3200, 3200, false)); // exactly 100 × 100 patches
    for (const model of LATER) {
      const [bound, exact] = imageCost('responses', model, url, 'original');
      expect(exact, model).toBeGreaterThanOrEqual(12_000);
      expect(bound, model).toBeGreaterThanOrEqual(exact);
      const [remoteBound, remoteExact] = imageCost('responses', model, REMOTE, 'original');
      expect(remoteExact, model).toBeGreaterThanOrEqual(12_000);
      expect(remoteBound).toBe(remoteExact);
    }
  });

  it('gpt-5.x small models named other than gpt-5-mini get the small-model multipliers (docs: 1536 × 1.62 / 2.46)', () => {
    for (const [model, worst] of [['gpt-5.1-codex-mini', Math.ceil(1536 * 1.62)], ['gpt-5.1-mini', Math.ceil(1536 * 1.62)], ['gpt-5.1-nano', Math.ceil(1536 * 2.46)]] as const) {
      const [bound, exact] = imageCost('chat', model, REMOTE);
      expect(exact, model).toBeGreaterThanOrEqual(worst);
      expect(bound, model).toBeGreaterThanOrEqual(exact);
    }
  });

  it('property: on random sizes and detail values, exact ≥ patches × 1.2 within the budget, and bound ≥ exact', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...LATER),
        fc.integer({ min: 1, max: 6000 }),
        fc.integer({ min: 1, max: 6000 }),
        fc.constantFrom('high', 'auto', 'low', 'original', undefined),
        (model, w, h, detail) => {
          const [bound, exact] = imageCost('chat', model, dataUrl('image/png', png(w, h, false)), detail);
          const budget = detail === 'original' ? 10_000 : 2500;
          const n = patchCount(w, h);
          // Within the budget no shrink applies, so the billed count is known exactly; above it, the budget is billed at most.
          if (n <= budget) expect(exact).toBeGreaterThanOrEqual(Math.ceil(n * 1.2));
          expect(bound).toBeGreaterThanOrEqual(exact);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('models with a documented older rule keep it (no extra reservation)', () => {
    const url = dataUrl('image/png', png(1024, 1024, false));
    expect(imageCost('chat', 'gpt-5', url)[1]).toBe(70 + 140 * 4);
    expect(imageCost('chat', 'gpt-5.1', url)[1]).toBe(70 + 140 * 4);
    expect(imageCost('chat', 'gpt-5-mini', url)[1]).toBe(Math.ceil(1024 * 1.62));
    expect(imageCost('chat', 'gpt-4.1', url)[1]).toBe(765);
  });
});
