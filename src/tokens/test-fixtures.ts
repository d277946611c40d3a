// Test-only builders of small binary files (image headers, WAV, PDF) as base64 and data URLs.
import { deflateSync } from 'node:zlib';

const b64 = (b: Buffer) => b.toString('base64');

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** A complete, decodable greyscale PNG (all black); `withPixels: false` keeps only the header chunks. */
export function png(width: number, height: number, withPixels = width * height <= 4_200_000): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8);
  const idat = withPixels ? [pngChunk('IDAT', deflateSync(Buffer.alloc((width + 1) * height)))] : [];
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), ...idat, pngChunk('IEND', Buffer.alloc(0))]);
}

/** A JPEG header: SOI, an APP0 and `padding` bytes of APP1 (EXIF-like) before the SOF0 frame header. */
export function jpeg(width: number, height: number, padding = 0): Buffer {
  const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]);
  const app1: Buffer[] = [];
  for (let left = padding; left > 0; left -= 65_000) {
    const n = Math.min(left, 65_000);
    const seg = Buffer.alloc(4 + n, 0x41);
    seg.set([0xff, 0xe1], 0);
    seg.writeUInt16BE(n + 2, 2);
    app1.push(seg);
  }
  const sof = Buffer.from([0xff, 0xc0, 0x00, 0x11, 0x08, 0, 0, 0, 0, 0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
  sof.writeUInt16BE(height, 5);
  sof.writeUInt16BE(width, 7);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, ...app1, Buffer.from([0xff, 0xff]), sof, Buffer.from([0xff, 0xd9])]);
}

/** A GIF header. */
export function gif(width: number, height: number): Buffer {
  const b = Buffer.alloc(13);
  b.write('GIF89a', 0, 'latin1');
  b.writeUInt16LE(width, 6);
  b.writeUInt16LE(height, 8);
  return b;
}

/** A WebP header in one of its three flavours. */
export function webp(width: number, height: number, kind: 'VP8 ' | 'VP8L' | 'VP8X'): Buffer {
  const b = Buffer.alloc(40);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(32, 4);
  b.write('WEBP', 8, 'latin1');
  b.write(kind, 12, 'latin1');
  if (kind === 'VP8X') {
    b.writeUIntLE(width - 1, 24, 3);
    b.writeUIntLE(height - 1, 27, 3);
  } else if (kind === 'VP8L') {
    b[20] = 0x2f;
    b.writeUInt32LE(((width - 1) & 0x3fff) | (((height - 1) & 0x3fff) << 14), 21);
  } else {
    b.set([0x9d, 0x01, 0x2a], 23);
    b.writeUInt16LE(width, 26);
    b.writeUInt16LE(height, 28);
  }
  return b;
}

/** A WAV file of `seconds` of silence at `byteRate` bytes per second. */
export function wav(byteRate: number, seconds: number): Buffer {
  const data = Math.round(byteRate * seconds);
  const b = Buffer.alloc(44 + data);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(36 + data, 4);
  b.write('WAVEfmt ', 8, 'latin1');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(byteRate / 2, 24);
  b.writeUInt32LE(byteRate, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36, 'latin1');
  b.writeUInt32LE(data, 40);
  return b;
}

/** A minimal PDF with `pages` page objects. */
export function pdf(pages: number): Buffer {
  const kids = Array.from({ length: pages }, (_, i) => `${i + 3} 0 R`).join(' ');
  let s = `%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [${kids}] /Count ${pages} >> endobj\n`;
  for (let i = 0; i < pages; i++) s += `${i + 3} 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >> endobj\n`;
  return Buffer.from(s + '%%EOF\n', 'latin1');
}

/**
 * A PDF whose page tree and `pages` page objects sit in a compressed object stream (PDF 1.5+), followed by an
 * incremental update that rewrites page 1 as a plain object (as annotating or form-filling tools save): only
 * that one page is visible without inflating the stream. `escapedNames` spells the compressed pages' `/Page` as
 * `/P#61ge` (legal: readers decode #xx in names).
 */
export function pdfWithObjectStream(pages: number, escapedNames = false): Buffer {
  const page = escapedNames ? '/P#61ge' : '/Page';
  const kids = Array.from({ length: pages }, (_, i) => `${i + 3} 0 R`).join(' ');
  const objects = [`<< /Type /Pages /Kids [${kids}] /Count ${pages} >>`, ...Array.from({ length: pages }, () => `<< /Type ${page} /Parent 2 0 R >>`)];
  let header = '';
  let body = '';
  objects.forEach((o, i) => {
    header += `${i + 2} ${body.length} `;
    body += o + '\n';
  });
  const packed = deflateSync(Buffer.from(header + body, 'latin1'));
  const head = `%PDF-1.5\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n100 0 obj << /Type /ObjStm /N ${objects.length} /First ${header.length} /Filter /FlateDecode /Length ${packed.length} >>\nstream\n`;
  const update = `\nendstream\nendobj\n%%EOF\n3 0 obj << /Type /Page /Parent 2 0 R /Annots [] >> endobj\n%%EOF\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), packed, Buffer.from(update, 'latin1')]);
}

/** `data:<type>;base64,<data>` */
export function dataUrl(type: string, data: Buffer): string {
  return `data:${type};base64,${b64(data)}`;
}
