// The `yaml` library's errors as ConfigIssues at the line to fix. The library reports where its scan
// noticed a problem, which is not always where the problem is: an unclosed quote or bracket is noticed
// at the end of all it swallowed (often the end of the file), and a line indented too deep is noticed
// at the line before, whose value it turns into a key. Those two are moved; the rest keep their line.
import { isMap, isNode, isScalar, isSeq, visit } from 'yaml';
import type { Document, LineCounter, Node, YAMLError } from 'yaml';
import type { ConfigIssue } from './config-error.js';

/** One issue per syntax error of `doc`, parsed from `text` with `lines` counting its lines. */
export function yamlSyntaxIssues(file: string, text: string, doc: Document, lines: LineCounter): ConfigIssue[] {
  // A key that runs onto the next line is also reported as a nested mapping where it starts: one mistake.
  const runOnKeys = new Set(doc.errors.filter((err) => err.code === 'MULTILINE_IMPLICIT_KEY').map((err) => err.pos[0]));
  return doc.errors
    .filter((err) => !(err.code === 'BLOCK_AS_IMPLICIT_KEY' && runOnKeys.has(err.pos[0])))
    .map((err) => ({ file, path: '', ...placed(err, text, doc, lines) }));
}

function placed(err: YAMLError, text: string, doc: Document, lines: LineCounter): { line: number; message: string } {
  const [start, end] = err.pos;
  const syntax = `YAML syntax error: ${quotingNothing(err.message.split('\n')[0]!)}`;
  if (err.code === 'MULTIPLE_DOCS') {
    return { line: contentLine(text, lines, start), message: 'a config file holds one YAML document, but a second one starts here: move it to a file of its own (files given with several --config are merged)' };
  }
  if (err.code === 'MULTILINE_IMPLICIT_KEY') {
    const [first, last] = [lines.linePos(start).line, lines.linePos(Math.max(start, end - 1)).line];
    // `port:4000` is one word to YAML, which then reads the next line as the rest of a key.
    if (NO_SPACE_AFTER_COLON.test(lineText(text, lines, first))) {
      return { line: first, message: 'YAML syntax error: a `:` without a space after it does not end a key: write `key: value`, with a space after the colon' };
    }
    if (first !== last) return { line: last, message: `YAML syntax error: the key begun on line ${first} runs on to this line (a key must be on one line): is this line indented too deep, or is a \`:\` missing on line ${first}?` };
  }
  const opened = unclosedStart(doc, text, start);
  return { line: opened === undefined ? contentLine(text, lines, start) : lines.linePos(opened).line, message: `${syntax}${hintFor(err)}` };
}

// A block key glued to its value: `port:4000`, `- id:alice`.
const NO_SPACE_AFTER_COLON = /^\s*(-\s+)?[A-Za-z0-9_.-]+:[^\s:/]/;

function lineText(text: string, lines: LineCounter, line: number): string {
  const starts = lines.lineStarts;
  return text.slice(starts[line - 1], starts[line] ?? text.length);
}

/**
 * The library's message without the source text some of its messages quote: the value on the line may be a
 * secret (a generated key starting with `|` or `>` is read as a block scalar's header, and "...extra
 * characters: <the rest of the line>" printed the whole key in `tollgate check` and in a refused reload's log).
 */
function quotingNothing(message: string): string {
  if (message.startsWith('Block scalar header includes extra characters')) return 'a value that starts with `|` or `>` is read as a block scalar\'s header: put the value in quotes';
  return message;
}

/** What to do about the library's errors whose words are about the parser more than about the file. */
function hintFor(err: YAMLError): string {
  const message = err.message.split('\n')[0]!;
  if (err.code === 'BLOCK_AS_IMPLICIT_KEY') return ': a value that contains `: ` must be quoted (`"a: b"`)';
  if (err.code === 'MISSING_CHAR' && message.includes('Sequence item without - indicator')) {
    return ': this line is indented less than the keys above it in the same list item; line it up with them (or start a new item with `- `)';
  }
  if (err.code === 'BAD_INDENT' && message.includes('same column')) return ': line this key up with the keys above it at its level';
  if (message.startsWith('Plain value cannot start with')) return ': put the value in quotes';
  return '';
}

/** Where the innermost quoted string or `{...}`/`[...]` that is still open at `offset` (its end) opens. */
function unclosedStart(doc: Document, text: string, offset: number): number | undefined {
  let opened: number | undefined;
  visit(doc, (_key, node) => {
    if (!isNode(node) || node.range?.[1] !== offset) return;
    const closer = closingChar(node);
    if (closer !== undefined && text[offset - 1] !== closer && (opened === undefined || node.range[0] > opened)) opened = node.range[0];
  });
  return opened;
}

function closingChar(node: Node): string | undefined {
  if (isScalar(node)) return node.type === 'QUOTE_DOUBLE' ? '"' : node.type === 'QUOTE_SINGLE' ? "'" : undefined;
  if (isMap(node) && node.flow) return '}';
  if (isSeq(node) && node.flow) return ']';
  return undefined;
}

/**
 * The line of `offset`, or the next one with content when that is blank or only a comment (an item's
 * position includes the comments above it), or the last one with content past the end of the file.
 */
function contentLine(text: string, lines: LineCounter, offset: number): number {
  const starts = lines.lineStarts;
  const hasContent = (line: number) => {
    const body = text.slice(starts[line - 1], starts[line] ?? text.length).trim();
    return body !== '' && !body.startsWith('#');
  };
  const at = lines.linePos(Math.min(offset, text.length)).line;
  for (let line = at; line <= starts.length; line++) if (hasContent(line)) return line;
  for (let line = at - 1; line >= 1; line--) if (hasContent(line)) return line;
  return 1;
}
