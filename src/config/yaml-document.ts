// Parses a config file's YAML into a Document, reporting a mapping's repeated key as the library does, in
// time that grows with the file. The library's own check (`uniqueKeys`) compares each key of a mapping
// with every key before it: a `groups:` of 4,000 names was 8 million comparisons, 0.5 s of a load.
import { isScalar, LineCounter, parseDocument, visit } from 'yaml';
import type { Document } from 'yaml';

/** A parsed file, and the line starts its node offsets are read with. */
export interface ParsedYaml {
  doc: Document;
  lines: LineCounter;
}

/** Parses `text` as parseDocument with `uniqueKeys: true` does: the same Document, the same errors. */
export function parseYamlDocument(text: string): ParsedYaml {
  const fast = parse(text, false);
  // Without a repeated key, `uniqueKeys` adds no error and changes nothing else. Any other error parses
  // again as well, so that every error report is exactly the library's.
  if (fast.doc.errors.length === 0 && !repeatsAKey(fast.doc)) return fast;
  return parse(text, true);
}

function parse(text: string, uniqueKeys: boolean): ParsedYaml {
  // A LineCounter of its own each time: it records every line start it is shown.
  const lines = new LineCounter();
  // prettyErrors off: its excerpt of the offending line could print a secret.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys });
  return { doc, lines };
}

// What the library counts as a repeat: the same scalar value (a Set's equality holds for at least those).
// A key that is no scalar (a mapping as a key) only repeats itself, which a parse never makes.
function repeatsAKey(doc: Document): boolean {
  let repeated = false;
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        if (seen.has(pair.key.value)) {
          repeated = true;
          return visit.BREAK;
        }
        seen.add(pair.key.value);
      }
      return undefined;
    },
  });
  return repeated;
}
