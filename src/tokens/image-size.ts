// Reads an image's pixel size from its header (PNG, JPEG, GIF, WebP) straight out of base64,
// decoding only the few bytes it needs, so a 20 MB data URL costs microseconds, not a full decode.

/** Pixel size of an image. */
export interface ImageDims {
  width: number;
  height: number;
}

/** Random access to bytes; undefined when the range is out of bounds or unreadable. */
type ReadBytes = (offset: number, length: number) => Uint8Array | undefined;

const B64_CHARS = /^[A-Za-z0-9+/_-]*$/;

/** The base64 payload of a `data:...;base64,` URL, or undefined for other URLs. */
export function dataUrlPayload(url: string): string | undefined {
  if (!url.startsWith('data:')) return undefined;
  const comma = url.indexOf(',');
  if (comma < 0 || !/;base64$/i.test(url.slice(0, comma))) return undefined;
  return url.slice(comma + 1);
}

/** Decoded size of base64 text (exact for clean base64, an upper bound otherwise). */
export function base64DecodedLength(b64: string): number {
  let pad = 0;
  if (b64.endsWith('==')) pad = 2;
  else if (b64.endsWith('=')) pad = 1;
  return Math.max(0, Math.floor((b64.length * 3) / 4) - pad);
}

/** Reads windows of base64 text; returns undefined (caller falls back) if the text is not clean base64. */
function base64Reader(b64: string): ReadBytes {
  let checkedTo = 0; // chars [0, checkedTo) are known to be clean, so offsets map 4 chars → 3 bytes
  return (offset, length) => {
    const q0 = Math.floor(offset / 3);
    const q1 = Math.ceil((offset + length) / 3);
    const end = Math.min(b64.length, q1 * 4);
    if (end > checkedTo) {
      if (!B64_CHARS.test(withoutPadding(b64.slice(checkedTo, end)))) throw new DirtyBase64();
      checkedTo = end;
    }
    const bytes = Buffer.from(b64.slice(q0 * 4, end), 'base64');
    const from = offset - q0 * 3;
    return from + length <= bytes.length ? bytes.subarray(from, from + length) : undefined;
  };
}

class DirtyBase64 extends Error {}

/**
 * `text` less the `=` that end it. Not `replace(/=+$/, '')`: that regex tries every `=` of a run as a start
 * and reads the run to its end from each, so 87,000 of them before a last letter (the skipped body of one
 * JPEG segment, in a 90 KB image) held the event loop 5.5 s, and every other client's call with it.
 */
function withoutPadding(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x3d) end--;
  return text.slice(0, end);
}

function bufferReader(buf: Uint8Array): ReadBytes {
  return (offset, length) => (offset >= 0 && offset + length <= buf.length ? buf.subarray(offset, offset + length) : undefined);
}

const u16be = (b: Uint8Array, i: number) => (b[i] << 8) | b[i + 1];
const u16le = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8);
const u24le = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);
const u32be = (b: Uint8Array, i: number) => ((b[i] << 24) >>> 0) + ((b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]);
const ascii = (b: Uint8Array, i: number, n: number) => String.fromCharCode(...b.subarray(i, i + n));

function png(read: ReadBytes): ImageDims | undefined {
  const b = read(0, 24);
  if (!b || u32be(b, 0) !== 0x89504e47 || ascii(b, 12, 4) !== 'IHDR') return undefined;
  return { width: u32be(b, 16), height: u32be(b, 20) };
}

function gif(read: ReadBytes): ImageDims | undefined {
  const b = read(0, 10);
  if (!b || !/^GIF8[79]a$/.test(ascii(b, 0, 6))) return undefined;
  return { width: u16le(b, 6), height: u16le(b, 8) };
}

function webp(read: ReadBytes): ImageDims | undefined {
  const b = read(0, 30);
  if (!b || ascii(b, 0, 4) !== 'RIFF' || ascii(b, 8, 4) !== 'WEBP') return undefined;
  const chunk = ascii(b, 12, 4);
  if (chunk === 'VP8X') return { width: u24le(b, 24) + 1, height: u24le(b, 27) + 1 };
  if (chunk === 'VP8L' && b[20] === 0x2f) {
    const bits = b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8 ' && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a) {
    return { width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff };
  }
  return undefined;
}

// Start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
const JPEG_SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

function jpeg(read: ReadBytes): ImageDims | undefined {
  const head = read(0, 2);
  if (!head || head[0] !== 0xff || head[1] !== 0xd8) return undefined;
  let pos = 2;
  for (let guard = 0; guard < 10_000; guard++) {
    const m = read(pos, 2);
    if (!m || m[0] !== 0xff) return undefined;
    const marker = m[1];
    if (marker === 0xff) {
      pos += 1; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      pos += 2; // markers without a length
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return undefined; // end of image / scan before any frame header
    if (JPEG_SOF.has(marker)) {
      const f = read(pos + 5, 4);
      return f ? { height: u16be(f, 0), width: u16be(f, 2) } : undefined;
    }
    const len = read(pos + 2, 2);
    if (!len) return undefined;
    pos += 2 + u16be(len, 0);
  }
  return undefined;
}

function sniff(read: ReadBytes): ImageDims | undefined {
  const dims = png(read) ?? jpeg(read) ?? gif(read) ?? webp(read);
  return dims && dims.width > 0 && dims.height > 0 ? dims : undefined;
}

/** Pixel size from base64 image data (no `data:` prefix); undefined when it is not a readable PNG/JPEG/GIF/WebP. */
export function imageSizeFromBase64(b64: string): ImageDims | undefined {
  try {
    return sniff(base64Reader(b64));
  } catch (e) {
    if (!(e instanceof DirtyBase64)) return undefined;
    // Whitespace or other noise inside the base64 breaks offset arithmetic: decode it all once instead.
    try {
      return sniff(bufferReader(Buffer.from(b64, 'base64')));
    } catch {
      return undefined;
    }
  }
}

/** Pixel size of the image behind an image URL; only `data:` URLs can be read, remote URLs give undefined. */
export function imageSizeFromUrl(url: string): ImageDims | undefined {
  const payload = dataUrlPayload(url);
  return payload === undefined ? undefined : imageSizeFromBase64(payload);
}
