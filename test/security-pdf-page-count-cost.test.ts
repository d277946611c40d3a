// Regression from a security audit: counting a PDF attachment's pages (to reserve its tokens) took time
// quadratic in its size, on the event loop, before anything was reserved: any key holder froze the whole
// gateway with one call. A 1 MB "PDF" of `/Type/Pages` held it 37 s (a 10 MB body: hours), of `/Count 1`
// 19 s, of `stream` lines 10 s. And a 10 MB body of 458 small PDFs, each with an object stream inflating to
// 16 MiB, held it 34 s (tokenizing 10 MB of text takes 1.6 s).
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { pdfPageCount } from '../src/tokens/media-cost.js';
import { pdfWithObjectStream } from '../src/tokens/test-fixtures.js';
import { useTestGateway } from './helpers/use-test-gateway.js';

const TIMES = 40_000;
// Each about 0.5 MB; before the fix each took 2.5 to 9 s to count, on this machine.
const SLOW_PDFS: Record<string, string> = {
  'page tree dictionaries': '%PDF-1.5\n' + '/Type/Pages '.repeat(TIMES),
  'page counts': '%PDF-1.5\n' + '/Count 1 '.repeat(TIMES),
  '`stream` keywords without objects': '%PDF-1.5 ObjStm\n' + 'stream\n'.repeat(TIMES * 2),
};

/** Milliseconds `work` takes. */
function timed(work: () => unknown): number {
  const t = performance.now();
  work();
  return performance.now() - t;
}

describe('PDF page counting time', () => {
  it.each(Object.entries(SLOW_PDFS))('grows linearly with the file: %s', (_, text) => {
    expect(timed(() => pdfPageCount(Buffer.from(text, 'latin1')))).toBeLessThan(1000);
  });

  it('inflates object streams only up to a multiple of the PDF: a small zlib bomb is an unknown document', () => {
    const pages = deflateSync(Buffer.from('<< /Type /Page >>\n'.repeat(700_000), 'latin1'));
    const bomb = Buffer.concat([Buffer.from('%PDF-1.5\n1 0 obj << /Type /ObjStm /Filter /FlateDecode >>\nstream\n', 'latin1'), pages, Buffer.from('\nendstream\nendobj\n', 'latin1')]);
    expect(bomb.length).toBeLessThan(64 * 1024); // 12 MB of page objects
    // Unknown, so estimated at the providers' 100-page cap, as for any stream that cannot be read.
    expect(pdfPageCount(bomb)).toBeUndefined();
  });

  it('still reads real object streams, the page tree and every page in them', () => {
    expect(pdfPageCount(pdfWithObjectStream(99))).toBe(100); // 99 compressed pages, one rewritten page
    // (Padded: a count is capped at one page per 10 bytes of the file.)
    const tree = (dictionary: string) => Buffer.from(`%PDF-1.4\n2 0 obj ${dictionary} endobj\n%${' '.repeat(100)}\n`, 'latin1');
    expect(pdfPageCount(tree('<< /Type /Pages /Kids [] /Count 7 >>'))).toBe(7);
    expect(pdfPageCount(tree('<< /Count 7 /Type /Pages >>'))).toBe(7);
  });
});

describe('a call carrying such a PDF, through the gateway', () => {
  // A limit under the PDF's cheap upper bound, so its pages are counted exactly.
  const gw = useTestGateway(`
providers:
  demo: {type: mock, output_tokens: 5}
users:
  t: {daily_limit: 1000000}
routes:
  main:
    chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]
keys: [{id: alice, key: tg-alice-pdf, user: alice, tier: t}]
`);

  it('is answered promptly, without holding the gateway', async () => {
    await call([{ type: 'text', text: 'Hello' }]); // loads the tokenizer, which takes a second of its own
    const pdf = Buffer.from(SLOW_PDFS['page tree dictionaries'], 'latin1').toString('base64');
    const content = [{ type: 'text', text: 'Summarize.' }, { type: 'file', file: { filename: 'a.pdf', file_data: `data:application/pdf;base64,${pdf}` } }];
    const t = performance.now();
    // No page objects in it: an unknown document of 100 pages, which the limit admits.
    expect(await call(content)).toBe(200);
    expect(performance.now() - t).toBeLessThan(1500);
  });

  async function call(content: unknown[]): Promise<number> {
    const res = await fetch(`${gw().url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer tg-alice-pdf', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', max_tokens: 5, messages: [{ role: 'user', content }] }),
    });
    await res.text();
    return res.status;
  }
});
