// Measures gpt-tokenizer against js-tiktoken (load time, memory, µs per count, agreement, adversarial
// input) and the cost of this repo's estimator. Each timing runs in its own child process holding only
// the encoder under test, as a gateway would.
// Run: `npx tsc -p tsconfig.build.json && node dist/bench/tokenizers.js`.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../util/prng.js';

type Lib = 'gpt-tokenizer' | 'js-tiktoken';
type Enc = 'o200k_base' | 'cl100k_base';
type Counter = (text: string) => number;

const require = createRequire(import.meta.url);
const SELF = fileURLToPath(import.meta.url);
const LIBS: Lib[] = ['gpt-tokenizer', 'js-tiktoken'];
const ENCS: Enc[] = ['o200k_base', 'cl100k_base'];
const SIZES: [label: string, chars: number, runs: number][] = [
  ['~200-char chat message', 200, 3000],
  ['~4 KB text', 4096, 600],
  ['~100 KB text', 100_000, 40],
];

interface GptTokenizerModule {
  countTokens(text: string, opts?: { disallowedSpecial?: Set<string> }): number;
  encode(text: string, opts?: { disallowedSpecial?: Set<string> }): number[];
}
interface TiktokenCtor {
  new (ranks: unknown): { encode(text: string, allowed?: string[] | 'all', disallowed?: string[] | 'all'): number[] };
}

// Special-token strings in user text are plain text to the API, so neither library may reject them.
const AS_TEXT = { disallowedSpecial: new Set<string>() };

/** Loads one library's encoder; `count` is the fastest way that library has to count. */
function load(lib: Lib, enc: Enc): { count: Counter; encode: (t: string) => number[] } {
  if (lib === 'gpt-tokenizer') {
    const m = require(`gpt-tokenizer/cjs/encoding/${enc}`) as GptTokenizerModule;
    return { count: (t) => m.countTokens(t, AS_TEXT), encode: (t) => m.encode(t, AS_TEXT) };
  }
  const { Tiktoken } = require('js-tiktoken/lite') as { Tiktoken: TiktokenCtor };
  const mod = require(`js-tiktoken/ranks/${enc}`) as { default?: unknown };
  const t = new Tiktoken(mod.default ?? mod);
  const encode = (s: string) => t.encode(s, [], []);
  return { count: (s) => encode(s).length, encode };
}

const WORDS = (
  'the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part gateway token limit budget request model stream usage window reserve settle ' +
  'quarterly synergy deliverable latency throughput kubernetes deployment configuration authentication'
).split(' ');
const CODE = [
  'function add(a: number, b: number): number {\n  return a + b;\n}\n',
  'for (let i = 0; i < items.length; i++) {\n    if (items[i] === undefined) continue;\n    total += items[i].price * 1.2;\n}\n',
  'def fib(n):\n    """Return the n-th Fibonacci number."""\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n',
  "SELECT id, name FROM users WHERE created_at > NOW() - INTERVAL '7 days' ORDER BY id DESC;\n",
];

/** Realistic text: prose with some code and numbers, different on each call. */
function text(r: () => number, chars: number): string {
  let out = '';
  while (out.length < chars) {
    if (r() < 0.1) out += CODE[Math.floor(r() * CODE.length)];
    else {
      const n = 8 + Math.floor(r() * 14);
      const ws: string[] = [];
      for (let i = 0; i < n; i++) ws.push(r() < 0.05 ? String(Math.floor(r() * 100000)) : WORDS[Math.floor(r() * WORDS.length)]);
      out += ws.join(' ') + (r() < 0.2 ? '.\n' : '. ');
    }
  }
  return out.slice(0, chars);
}

function randomUnicode(r: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const k = r();
    if (k < 0.3) s += String.fromCharCode(32 + Math.floor(r() * 95));
    else if (k < 0.55) s += String.fromCodePoint(0x4e00 + Math.floor(r() * 0x5000));
    else if (k < 0.75) s += String.fromCodePoint(0x1f300 + Math.floor(r() * 0x500));
    else if (k < 0.8) s += String.fromCharCode(0xd800 + Math.floor(r() * 0x800)); // lone surrogate
    else {
      const cp = Math.floor(r() * (r() < 0.5 ? 0x10000 : 0x110000));
      s += cp >= 0xd800 && cp <= 0xdfff ? 'x' : String.fromCodePoint(cp);
    }
  }
  return s;
}

const CORPUS: Record<string, string> = {
  english: 'You are a helpful, pattern-following assistant that translates corporate jargon into plain English. ' + text(mulberry32(1), 3000),
  code: CODE.join('\n').repeat(5) + '\n\t\t  indented\n\n\n    spaces    and\ttabs  ',
  cjk: '東京は日本の首都です。今日はいい天気ですね。我们正在测试分词器。한국어 문장도 포함합니다. お誕生日おめでとう',
  emoji: '👋🏽 Hello 👨‍👩‍👧‍👦 family 🇮🇹🇯🇵 flags ✅❌🔥💯 ❤️‍🔥 🧑🏿‍💻',
  specials: 'plain text that mentions <|endoftext|> and <|im_start|>user and <|fim_prefix|> literally',
  numbers: '3.14159265358979 1234567890 0x1f2e3d 2026-11-21T10:00:00Z 1,000,000.00 -42e-7',
  whitespace: ' \n\n \t  x  \r\n\u00a0\u2003 end   ',
  mixed: text(mulberry32(2), 500) + '東京' + '🙂'.repeat(7) + 'naïve café Ωμέγα Привет مرحبا שלום नमस्ते',
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median µs of `fn` over `runs` calls, taking inputs from `inputs` in turn. */
function timeIt(fn: Counter, inputs: string[], runs: number): number {
  for (let i = 0; i < Math.min(runs, 20); i++) fn(inputs[i % inputs.length]);
  const us: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = inputs[i % inputs.length];
    const t0 = process.hrtime.bigint();
    fn(s);
    us.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return median(us);
}

function ms(fn: () => unknown): string {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0).toFixed(1);
}

function machine(): string {
  return `${availableParallelism()} × ${cpus()[0]?.model.trim()}, load average ${loadavg()[0].toFixed(1)}`;
}

/** Child: load one encoder in a fresh process and report time and memory. */
function childLoad(lib: Lib, enc: Enc): unknown {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const rss0 = process.memoryUsage().rss;
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const { count } = load(lib, enc);
  const t1 = performance.now();
  count('warm up the encoder: hello world');
  const t2 = performance.now();
  gc?.();
  const mem = process.memoryUsage();
  return { loadMs: t1 - t0, firstCountMs: t2 - t1, rssMb: (mem.rss - rss0) / 2 ** 20, heapMb: (mem.heapUsed - heap0) / 2 ** 20 };
}

/** Child: µs per count for each size, fresh texts and one repeated text, with only this encoder loaded. */
function childSpeed(lib: Lib, enc: Enc): unknown {
  const { count, encode } = load(lib, enc);
  return SIZES.map(([, chars, runs]) => {
    const rr = mulberry32(chars);
    const fresh = Array.from({ length: Math.min(runs, 200) }, () => text(rr, chars));
    return {
      fresh: timeIt(count, fresh, runs),
      repeat: timeIt(count, [fresh[0]], runs),
      encodeFresh: lib === 'gpt-tokenizer' ? timeIt((s) => encode(s).length, fresh, runs) : undefined,
    };
  });
}

/** Child: this repo's estimateInput on typical chat bodies. */
async function childModule(): Promise<unknown> {
  const tokens = await import('../tokens/index.js');
  tokens.preloadTokenizers(['gpt-4o']);
  const rb = mulberry32(7);
  const chat = (extra: unknown[]) => ({
    messages: [
      { role: 'system', content: text(rb, 400) },
      { role: 'user', content: text(rb, 200) },
      { role: 'assistant', content: text(rb, 300) },
      { role: 'user', content: [{ type: 'text', text: text(rb, 200) }, ...extra] },
    ],
  });
  const png = Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d494844520000040000000400080000000000', 'hex'), Buffer.alloc(1_000_000)]);
  const image = `data:image/png;base64,${png.toString('base64')}`;
  const cases: [string, Record<string, unknown>[], number][] = [
    ['4 messages, ~1.1 KB of text', Array.from({ length: 100 }, () => chat([])), 3000],
    ['same + a 1 MB PNG data URL', Array.from({ length: 20 }, () => chat([{ type: 'image_url', image_url: { url: image } }])), 500],
    ['same + a ~100 KB text part', Array.from({ length: 20 }, () => chat([{ type: 'text', text: text(rb, 100_000) }])), 40],
  ];
  return cases.map(([label, bodies, runs]) => {
    let k = 0;
    const bound = timeIt(() => tokens.estimateInput('chat', bodies[k++ % bodies.length], 'gpt-4o').upperBound, [''], runs);
    const exact = timeIt(() => tokens.estimateInput('chat', bodies[k++ % bodies.length], 'gpt-4o').exact(), [''], runs);
    return { label, bound, exact };
  });
}

function spawn<T>(...args: string[]): T {
  return JSON.parse(execFileSync(process.execPath, ['--expose-gc', SELF, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 })) as T;
}

async function main(): Promise<void> {
  console.log(`# Tokenizer benchmark — Node ${process.version}, ${machine()}\n`);

  console.log('## Encoder load (fresh process; require + construct, then the first count; median of 3)\n');
  console.log('| library | encoding | load ms | first count ms | RSS Δ MB | heap Δ MB |\n| --- | --- | ---: | ---: | ---: | ---: |');
  for (const lib of LIBS)
    for (const enc of ENCS) {
      const runs = [0, 1, 2].map(() => spawn<Record<string, number>>('--load', lib, enc));
      const m = (k: string) => median(runs.map((x) => x[k])).toFixed(k.endsWith('Mb') ? 1 : 0);
      console.log(`| ${lib} | ${enc} | ${m('loadMs')} | ${m('firstCountMs')} | ${m('rssMb')} | ${m('heapMb')} |`);
    }

  const impls = new Map<string, ReturnType<typeof load>>();
  for (const lib of LIBS) for (const enc of ENCS) impls.set(`${lib}/${enc}`, load(lib, enc));

  console.log('\n## Agreement on a varied corpus (token ids and counts)\n');
  const r = mulberry32(42);
  const samples = [...Object.entries(CORPUS)];
  for (let i = 0; i < 500; i++) samples.push([`random#${i}`, randomUnicode(r, 1 + Math.floor(r() * 300))]);
  for (const enc of ENCS) {
    const a = impls.get(`gpt-tokenizer/${enc}`)!;
    const b = impls.get(`js-tiktoken/${enc}`)!;
    const bad: string[] = [];
    for (const [name, s] of samples) {
      const ea = a.encode(s);
      const eb = b.encode(s);
      if (a.count(s) !== ea.length || ea.length !== eb.length || ea.some((t, j) => t !== eb[j])) bad.push(name);
    }
    const named = Object.keys(CORPUS).map((k) => `${k}=${a.count(CORPUS[k])}`).join(', ');
    console.log(`- ${enc}: ${samples.length - bad.length}/${samples.length} identical${bad.length ? ` (differ: ${bad.slice(0, 5).join(', ')})` : ''}; counts: ${named}`);
  }

  console.log('\n## µs per count (median per child process; best of 2 processes, run alternately)\n');
  console.log('| input | encoding | gpt-tokenizer countTokens, fresh texts | same text repeated | gpt-tokenizer encode().length, fresh | js-tiktoken encode().length, fresh | same text repeated |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |');
  type Speed = { fresh: number; repeat: number; encodeFresh?: number }[];
  for (const enc of ENCS) {
    const best = (a: Speed, b: Speed): Speed => a.map((x, i) => ({ fresh: Math.min(x.fresh, b[i].fresh), repeat: Math.min(x.repeat, b[i].repeat), encodeFresh: x.encodeFresh === undefined ? undefined : Math.min(x.encodeFresh, b[i].encodeFresh!) }));
    const g1 = spawn<Speed>('--speed', 'gpt-tokenizer', enc);
    const j1 = spawn<Speed>('--speed', 'js-tiktoken', enc);
    const j2 = spawn<Speed>('--speed', 'js-tiktoken', enc);
    const g2 = spawn<Speed>('--speed', 'gpt-tokenizer', enc);
    const g = best(g1, g2);
    const j = best(j1, j2);
    SIZES.forEach(([label], i) => console.log(`| ${label} | ${enc} | ${[g[i].fresh, g[i].repeat, g[i].encodeFresh!, j[i].fresh, j[i].repeat].map((c) => c.toFixed(1)).join(' | ')} |`));
  }

  console.log('\n## Cheap bound: cost of measuring a string (median µs)\n');
  console.log('| input | str.length | Buffer.byteLength |\n| --- | ---: | ---: |');
  for (const [label, chars, runs] of SIZES) {
    const rr = mulberry32(chars + 1);
    const fresh = Array.from({ length: 50 }, () => text(rr, chars) + 'é');
    console.log(`| ${label} | ${timeIt((s) => s.length, fresh, runs * 5).toFixed(2)} | ${timeIt((s) => Buffer.byteLength(s), fresh, runs * 5).toFixed(2)} |`);
  }

  const tokens = await import('../tokens/index.js');
  console.log('\n## Adversarial input: one long pre-token (ms, single run, o200k_base)\n');
  console.log('| input | gpt-tokenizer countTokens | js-tiktoken | this repo: countTextTokens |\n| --- | ---: | ---: | ---: |');
  const rc = mulberry32(9);
  const adversarial: [string, string][] = [
    ['5 000 × "a"', 'a'.repeat(5000)],
    ['5 000 spaces', ' '.repeat(5000)],
    ['2 000 random CJK chars', Array.from({ length: 2000 }, () => String.fromCodePoint(0x4e00 + Math.floor(rc() * 0x5000))).join('')],
  ];
  tokens.countTextTokens('warm up', 'gpt-4o');
  const g = impls.get('gpt-tokenizer/o200k_base')!;
  const j = impls.get('js-tiktoken/o200k_base')!;
  for (const [label, s] of adversarial) console.log(`| ${label} | ${ms(() => g.count(s))} | ${ms(() => j.count(s))} | ${ms(() => tokens.countTextTokens(s, 'gpt-4o'))} |`);

  console.log('\n## This repo: estimateInput on chat bodies (gpt-4o, median µs, own process)\n');
  console.log('| body | upperBound | exact() |\n| --- | ---: | ---: |');
  for (const row of spawn<{ label: string; bound: number; exact: number }[]>('--module')) console.log(`| ${row.label} | ${row.bound.toFixed(1)} | ${row.exact.toFixed(1)} |`);
  console.log(`\n(finished at ${machine()})`);
}

const [mode, lib, enc] = process.argv.slice(2) as [string, Lib, Enc];
if (mode === '--load') console.log(JSON.stringify(childLoad(lib, enc)));
else if (mode === '--speed') console.log(JSON.stringify(childSpeed(lib, enc)));
else if (mode === '--module') console.log(JSON.stringify(await childModule()));
else await main();
