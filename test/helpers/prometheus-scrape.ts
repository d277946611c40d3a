// Reading a gateway's /metrics as Prometheus would: the text checked and parsed, and series summed by labels.
import { expect } from 'vitest';
import parsePrometheusTextFormat, { type PromFamily } from 'parse-prometheus-text-format';

/** The /metrics text, after checking that it is served as Prometheus text. */
export async function scrapeText(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
}

/** The metric families of a /metrics text, by name. */
export function families(text: string): Map<string, PromFamily> {
  return new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
}

/** Sum of a family's series whose labels include `match`. */
export function sum(f: PromFamily | undefined, match: Record<string, string> = {}): number {
  return (f?.metrics ?? []).filter((m) => Object.entries(match).every(([k, v]) => m.labels?.[k] === v)).reduce((s, m) => s + Number(m.value), 0);
}
