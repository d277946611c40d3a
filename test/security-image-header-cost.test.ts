// Regression from a security audit: reading an image's size from its base64 (to reserve its tokens) checked
// each stretch of text it skipped with `replace(/=+$/, '')`, quadratic in a run of `=` that does not end the
// stretch. One 90 KB JPEG whose 64 KB segment was written as `=` held the event loop 5.5 s, before anything
// was reserved: a call with two such images froze every other client's call for 12.7 s, and any key holder
// could send a hundred. The size is read when a limit is tight, which a client brings about with a large
// `max_tokens`.
import { describe, expect, it } from 'vitest';
import { imageSizeFromBase64 } from '../src/tokens/image-size.js';
import { jpeg } from '../src/tokens/test-fixtures.js';
import { useTestGateway } from './helpers/use-test-gateway.js';

// SOI, then an APP0 segment of 65,535 bytes whose body is written as `=`, then the next marker (SOF0 of a 16x16 image).
const PADDED_JPEG = '/9j/4P//' + '='.repeat(87_384 - 8) + '/8AAEQgAEAAQAwEiAAIRAQMRAf/aAAwDAQACEQMRAD8A';

describe('image size from base64', () => {
  it('takes linear time over a run of `=` that does not end the text', () => {
    const t = performance.now();
    // Not clean base64 (`=` only ends it): the size is unknown, and the image is reserved at the most it can cost.
    expect(imageSizeFromBase64(PADDED_JPEG)).toBeUndefined();
    expect(performance.now() - t).toBeLessThan(500);
  });

  it('still reads the size of real images, padding included', () => {
    expect(imageSizeFromBase64(jpeg(640, 480, 70_000).toString('base64'))).toEqual({ width: 640, height: 480 });
    expect(imageSizeFromBase64(jpeg(33, 17).toString('base64'))).toEqual({ width: 33, height: 17 });
  });
});

describe('a call carrying such images, through the gateway', () => {
  const gw = useTestGateway(`
providers:
  demo: {type: mock, output_tokens: 5}
users:
  t: {daily_limit: 26000}
routes:
  main:
    chat_models: [{model_id: gpt-4o, model: demo/gpt-4o}]
keys: [{id: alice, key: tg-alice-img, user: alice, tier: t}]
`);

  async function call(content: unknown[], maxTokens: number): Promise<number> {
    const res = await fetch(`${gw().url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer tg-alice-img', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', max_tokens: maxTokens, messages: [{ role: 'user', content }] }),
    });
    await res.text();
    return res.status;
  }

  it('is answered promptly when a tight limit has the images measured', async () => {
    await call([{ type: 'text', text: 'Hello' }], 5); // loads the tokenizer, which takes a second of its own
    const image = { type: 'image_url', image_url: { url: `data:image/jpeg;base64,${PADDED_JPEG}` } };
    const t = performance.now();
    // max_tokens close to the whole daily limit (16,000 of 26,000, leaving 10,000 as before; gpt-4o takes at
    // most 16,384): the cheap bound (the images' text, 87 KB each) does not fit, so the images' sizes are read
    // and the input is counted exactly.
    expect(await call([{ type: 'text', text: 'Describe.' }, image, image], 16_000)).toBe(200);
    expect(performance.now() - t).toBeLessThan(1500);
  });
});
