// PDF attachments must never be estimated below the pages the provider renders. A PDF saved with object
// streams (PDF 1.5+) keeps its page objects compressed; after an incremental update (annotating, filling a
// form) one rewritten page is plain text again. Counting only the visible `/Type /Page` objects then took a
// 40-page PDF for 1 page: exact() reserved 4,445 tokens on gpt-4o where ~178,000 are billed.
import { describe, expect, it } from 'vitest';
import { estimateInput } from '../src/tokens/index.js';
import { pdf, pdfWithObjectStream } from '../src/tokens/test-fixtures.js';

/** What one attached file adds: [upperBound, exact()]. */
function fileCost(model: string, data: Buffer): [number, number] {
  const body = (content: unknown[]) => ({ messages: [{ role: 'user', content }] });
  const withFile = estimateInput('chat', body([{ type: 'file', file: { filename: 'a.pdf', file_data: `data:application/pdf;base64,${data.toString('base64')}` } }]), model);
  const without = estimateInput('chat', body([]), model);
  return [withFile.upperBound - without.upperBound, withFile.exact() - without.exact()];
}

// Per page: gpt-4o's worst-case page image (1,445) + 3,000 text tokens (docs/tokens.md).
const PER_PAGE_4O = 1445 + 3000;

describe('PDF page counts behind object streams', () => {
  it.each([1, 2, 40, 99])('a %i-page PDF with compressed page objects and one rewritten page counts every page', (pages) => {
    const [bound, exact] = fileCost('gpt-4o', pdfWithObjectStream(pages));
    expect(exact).toBeGreaterThanOrEqual(pages * PER_PAGE_4O);
    // The stream is read, not given up on: at most the rewritten page counts twice.
    expect(exact).toBeLessThanOrEqual((pages + 1) * PER_PAGE_4O);
    expect(bound).toBeGreaterThanOrEqual(exact);
  });

  it('names spelled with #xx escapes (/P#61ge is /Page) are pages too', () => {
    const [bound, exact] = fileCost('gpt-4o', pdfWithObjectStream(30, true));
    expect(exact).toBeGreaterThanOrEqual(30 * PER_PAGE_4O);
    expect(exact).toBeLessThanOrEqual(31 * PER_PAGE_4O);
    expect(bound).toBeGreaterThanOrEqual(exact);
  });

  it('an object stream that cannot be read counts as an unknown document (100 pages), never as the visible pages', () => {
    const broken = Buffer.from(pdfWithObjectStream(40).toString('latin1').replace('/FlateDecode', '/LZWDecode').replace(/stream\n[^]*?\nendstream/, 'stream\nnot zlib\nendstream'), 'latin1');
    expect(fileCost('gpt-4o', broken)[1]).toBe(100 * PER_PAGE_4O);
  });

  it('plain PDFs keep their exact page count (no needless reservation)', () => {
    expect(fileCost('gpt-4o', pdf(3))[1]).toBe(3 * PER_PAGE_4O);
  });
});
