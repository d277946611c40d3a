import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readAll } from './upstream-failure.js';

describe('readAll', () => {
  it('joins every chunk of a stream or an async iterable', async () => {
    const parts = ['{"a":', '1,"b":"', 'é"}'].map((s) => Buffer.from(s));
    expect((await readAll(Readable.from(parts))).toString()).toBe('{"a":1,"b":"é"}');
    async function* gen() {
      yield* parts;
    }
    expect((await readAll(gen())).toString()).toBe('{"a":1,"b":"é"}');
  });

  it('rejects a body that fails or is cut off before its end, rather than returning part of it', async () => {
    const failing = new Readable({ read() {} });
    const failed = readAll(failing);
    failing.push(Buffer.from('{"partial":'));
    setImmediate(() => failing.destroy(new Error('socket hang up')));
    await expect(failed).rejects.toThrow('socket hang up');

    const cut = new Readable({ read() {} });
    const aborted = readAll(cut);
    cut.push(Buffer.from('{"partial":'));
    setImmediate(() => cut.destroy());
    await expect(aborted).rejects.toThrow('closed before its end');
  });
});
