// What `tollgate audit` makes of the gateway's answer. Anything but an audit report (another server's
// JSON, an HTML page, a 404, no answer at all) becomes one line saying what came back, not a stack
// trace from rendering it, nor an exit 0 from reading `drifting` off the wrong object.
import * as z from 'zod';
import type { AuditReport } from '../ledger/audit.js';

const finite = z.number().refine(Number.isFinite);
// Only what renderAudit and the exit code read is checked; every other field (a line's algorithm, and
// whatever a newer gateway adds) is kept, since --format json prints the report as the gateway sent it.
const auditReportSchema = z.looseObject({
  atMs: finite,
  lines: z.array(z.looseObject({ organization: z.string(), limit: z.string(), unit: z.string(), counter: finite, ledger: finite, drift: finite })),
  drifting: z.number().int().nonnegative(),
  openReservations: finite,
  skippedCalls: finite,
  skippedKeys: z.array(z.string()),
});
const errorBodySchema = z.object({ error: z.object({ message: z.string().min(1) }) });

/** The report in `res`, or why there is none, as one line naming `where` (the audit URL). */
export async function readAuditAnswer(res: Response, where: string): Promise<{ report: AuditReport } | { problem: string }> {
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    const type = res.headers.get('content-type')?.split(';')[0] ?? 'no content type';
    return { problem: `${where} answered HTTP ${res.status} with ${text.trim() === '' ? 'an empty body' : `${type}, not JSON`}: is this the gateway's address?` };
  }
  const error = errorBodySchema.safeParse(body);
  // The gateway's own refusals (401 without the admin key, 503 ledger_unavailable) already say what to do.
  if (!res.ok) return { problem: error.success ? `${where}: HTTP ${res.status}: ${oneLine(error.data.error.message)}` : `${where} answered HTTP ${res.status}: is this the gateway's address?` };
  const report = auditReportSchema.safeParse(body);
  if (!report.success) return { problem: `${where} answered JSON that is not an audit report: is this the gateway's address?` };
  return { report: report.data as unknown as AuditReport }; // checked for what is read (above), the rest kept as sent
}

/** Why `fetch` failed, in words: its own message is only "fetch failed", the reason is in its cause. */
export function unreachableReason(err: unknown, timeoutSeconds: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no complete answer within ${timeoutSeconds} s (--timeout)`;
  const code = e.cause?.code;
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused: is the gateway running there?',
    ENOTFOUND: 'no such host',
    EAI_AGAIN: 'the host name could not be resolved',
    ECONNRESET: 'the connection was reset',
    EHOSTUNREACH: 'host unreachable',
    ETIMEDOUT: 'the connection timed out',
  };
  if (code && known[code]) return `${known[code]} (${code})`;
  return oneLine(e.cause?.message ?? e.message ?? String(err));
}

// A message from elsewhere must not break the one-line promise (or forge a second line).
export function oneLine(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]+/g, ' ').slice(0, 300);
}
