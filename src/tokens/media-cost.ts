// Conservative token costs of audio and document attachments, whose billed size the API does not publish
// as a formula. Each `*Bound` reads only string lengths and is never below its exact counterpart.
import { inflateSync } from 'node:zlib';
import { base64DecodedLength, dataUrlPayload } from './image-size.js';

/** Twice OpenAI's documented rate for user audio (1 token per 100 ms), for margin. */
export const AUDIO_TOKENS_PER_SECOND = 20;
/** The lowest byte rate we assume for audio whose header we cannot read (8 kbit/s MP3). */
export const MIN_AUDIO_BYTES_PER_SECOND = 1000;
/** Pages assumed for a document we cannot read (both OpenAI and Anthropic cap PDF input at 100 pages). */
export const UNKNOWN_DOCUMENT_PAGES = 100;
/** Text tokens assumed per PDF page, on top of the page image (a dense page is ~2,000 tokens). */
export const PAGE_TEXT_TOKENS = 3000;
/** Fewest bytes a PDF page object can take (`/Type/Page`), so page counts never exceed bytes / 10. */
const MIN_PDF_PAGE_BYTES = 10;
/** Tokens wrapped around an attached text file. */
const FILE_WRAPPER_TOKENS = 16;

/** Strips an optional `data:...;base64,` prefix. */
export function base64Payload(data: string): string {
  return dataUrlPayload(data) ?? data;
}

/** The highest byte rate a WAV header is believed for: 48 kHz, 2 channels, 32-bit samples. Above it, audio counts as this. */
export const MAX_WAV_BYTES_PER_SECOND = 48_000 * 2 * 4;

/** Audio tokens from base64 data: duration from a WAV header, else the lowest plausible bit rate. */
export function audioTokens(b64: string): number {
  const payload = base64Payload(b64);
  const bytes = base64DecodedLength(payload);
  return Math.ceil((bytes / wavBytesPerSecond(payload)) * AUDIO_TOKENS_PER_SECOND);
}

/**
 * The byte rate a WAV header (base64) gives its samples, within [MIN_AUDIO_BYTES_PER_SECOND,
 * MAX_WAV_BYTES_PER_SECOND]; the lowest when it is no WAV. A decoder times the samples by the sample rate
 * and block size; the header's own byte-rate field is not read by it, so a false one (4 GB/s) must not
 * shrink the duration: the smaller of the two is taken.
 */
function wavBytesPerSecond(payload: string): number {
  const head = payload.length >= 48 ? Buffer.from(payload.slice(0, 48), 'base64') : undefined;
  if (!head || head.length < 34 || head.toString('latin1', 0, 4) !== 'RIFF' || head.toString('latin1', 8, 16) !== 'WAVEfmt ') return MIN_AUDIO_BYTES_PER_SECOND;
  const samples = head.readUInt32LE(24) * head.readUInt16LE(32); // sample rate × block align
  return Math.min(MAX_WAV_BYTES_PER_SECOND, Math.max(MIN_AUDIO_BYTES_PER_SECOND, Math.min(samples, head.readUInt32LE(28))));
}

/** Upper bound of audioTokens from the string length alone. */
export function audioTokensBound(b64: string): number {
  return Math.ceil((Math.ceil((b64.length * 3) / 4) / MIN_AUDIO_BYTES_PER_SECOND) * AUDIO_TOKENS_PER_SECOND);
}

/** Most bytes inflated from a PDF's object streams; past it the page count is unknown (an upper bound is used). */
const MAX_INFLATED_BYTES = 16 * 1024 * 1024;
/**
 * And at most this many per byte of the PDF: object streams inflate a few times the file's size (7x in
 * the page-tree fixtures), and a body of small zlib bombs must not cost more than its text would (458
 * 16 KB PDFs of 16 MiB each in a 10 MB body held the event loop 34 s; tokenizing 10 MB of text, 1.6 s).
 */
const MAX_INFLATE_RATIO = 32;

/** PDF names may spell any byte as #xx (`/P#61ge` is `/Page`); readers decode them, so the count must too. */
const decodeNames = (s: string) => (s.includes('#') ? s.replace(/#([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))) : s);

/**
 * The decompressed contents of the PDF's object streams (PDF 1.5+ keeps page objects and the page tree in
 * them), or undefined when one cannot be read (another filter, corrupt data, too large): then the pages are unknown.
 */
function objectStreams(pdf: Buffer, text: string): string[] | undefined {
  const out: string[] = [];
  const budget = Math.min(MAX_INFLATED_BYTES, MAX_INFLATE_RATIO * pdf.length);
  let total = 0;
  // Each `stream` is read as belonging to the last ` obj` before it, an object stream when /Type /ObjStm
  // comes between them. Found incrementally, each stretch of text searched once: searched back to the last
  // ` obj` (or on to `endstream`) from every `stream`, a 1 MB body of `stream` lines held the event loop for
  // 10 s, and every other client's call with it.
  let searchedTo = 0;
  let seenObject = false;
  let inObjectStream = false;
  let endAt = -1;
  for (const m of text.matchAll(/(?<!end)stream\r?\n/g)) {
    const start = m.index + m[0].length;
    const stretch = text.slice(searchedTo, m.index);
    searchedTo = m.index;
    const obj = stretch.lastIndexOf(' obj');
    if (obj >= 0) {
      seenObject = true;
      inObjectStream = OBJECT_STREAM.test(decodeNames(stretch.slice(obj)));
    } else if (seenObject && !inObjectStream) {
      inObjectStream = OBJECT_STREAM.test(decodeNames(stretch));
    }
    if (!inObjectStream) continue;
    if (endAt < start) {
      const found = text.indexOf('endstream', start);
      endAt = found < 0 ? text.length : found;
    }
    try {
      const data = inflateSync(pdf.subarray(start, endAt), { maxOutputLength: budget - total });
      total += data.length;
      out.push(data.toString('latin1'));
    } catch {
      return undefined;
    }
  }
  return out;
}

const OBJECT_STREAM = /\/Type\s*\/ObjStm\b/;
const PAGE_TREE = /\/Type\s*\/Pages\b/;

/** PDF pages counted from page objects (or the page tree's /Count), in object streams too; undefined when none are visible. */
export function pdfPageCount(pdf: Buffer): number | undefined {
  const raw = pdf.toString('latin1');
  const streams = raw.includes('ObjStm') || raw.includes('#') ? objectStreams(pdf, raw) : [];
  // Pages hidden in an object stream we cannot read: any visible count would be too low.
  if (!streams) return undefined;
  let pages = 0;
  let tree = 0;
  for (const text of [raw, ...streams].map(decodeNames)) {
    pages += text.match(/\/Type\s*\/Page(?![A-Za-z])/g)?.length ?? 0;
    // A page tree's /Count, in the same run of text between `>`s as its /Type /Pages. Found run by run: one
    // regex's lazy `[^>]*?` rescanned a run from each /Type /Pages in it (1 MB of them: 37 s, event loop held).
    for (const run of text.matchAll(/[^>]+/g)) {
      if (!PAGE_TREE.test(run[0])) continue;
      for (const count of run[0].matchAll(/\/Count\s+(\d+)/g)) tree = Math.max(tree, Number(count[1]));
    }
  }
  // A page object takes at least MIN_PDF_PAGE_BYTES, unless compressed, where only the providers' page cap holds.
  const cap = streams.length > 0 ? Math.max(UNKNOWN_DOCUMENT_PAGES, Math.floor(pdf.length / MIN_PDF_PAGE_BYTES)) : Math.floor(pdf.length / MIN_PDF_PAGE_BYTES);
  const n = Math.min(Math.max(pages, tree), cap);
  return n > 0 ? n : undefined;
}

/** Tokens of an attached file given as base64 (or a data URL): PDFs by page, text files by bytes, others as unknown. */
export function fileTokens(data: string, perPage: number): number {
  const buf = Buffer.from(base64Payload(data), 'base64');
  if (buf.toString('latin1', 0, 5) === '%PDF-') return (pdfPageCount(buf) ?? UNKNOWN_DOCUMENT_PAGES) * perPage;
  // Byte-level tokenizers never emit more tokens than bytes, so plain text is bounded by its length.
  const sample = buf.subarray(0, 8192);
  if (!sample.includes(0) && isUtf8Prefix(sample)) return buf.length + FILE_WRAPPER_TOKENS;
  return UNKNOWN_DOCUMENT_PAGES * perPage;
}

/** Upper bound of fileTokens from the string length alone. */
export function fileTokensBound(data: string, perPage: number): number {
  const bytes = Math.ceil((data.length * 3) / 4);
  return Math.max(UNKNOWN_DOCUMENT_PAGES, Math.floor(bytes / MIN_PDF_PAGE_BYTES)) * perPage + bytes + FILE_WRAPPER_TOKENS;
}

/** Tokens of a file we only have a reference to (file_id, URL). */
export function unknownFileTokens(perPage: number): number {
  return UNKNOWN_DOCUMENT_PAGES * perPage;
}

function isUtf8Prefix(b: Uint8Array): boolean {
  try {
    // The sample may end inside a multi-byte character; drop up to 3 trailing bytes before validating.
    new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(0, Math.max(0, b.length - 3)));
    return true;
  } catch {
    return false;
  }
}
