// Serialises one server-sent event the way OpenAI and Anthropic frame theirs.

/** What encodeSseEvent writes: an optional event type, the data, and an optional id. */
export interface SseEventInit {
  event?: string;
  data: string;
  id?: string;
}

const LINE_BREAK = /\r\n|\r|\n/;

/** Encodes one event as a complete frame: `event: x\n` (if any), one `data: ` line per data line, then a blank line. */
export function encodeSseEvent(ev: SseEventInit): string {
  let out = '';
  if (ev.event !== undefined) out += 'event: ' + stripBreaks(ev.event) + '\n';
  if (ev.id !== undefined) out += 'id: ' + stripBreaks(ev.id) + '\n';
  const data = ev.data;
  // JSON payloads never contain raw line breaks, so the common case is a single concatenation.
  if (!LINE_BREAK.test(data)) return out + 'data: ' + data + '\n\n';
  for (const line of data.split(LINE_BREAK)) out += 'data: ' + line + '\n';
  return out + '\n';
}

// A line break inside `event` or `id` would end the field early and inject another one.
function stripBreaks(value: string): string {
  return LINE_BREAK.test(value) ? value.replace(/\r\n|\r|\n/g, '') : value;
}
