// The SQLite ledger's report query. Its rows are split in two tables (sqlite-rows.ts): read through the
// `tollgate_ledger` view, every call is joined to its context, then every call is sorted by the context's
// text columns to group it. At millions of rows that join and sort were most of the time of the counter
// rebuild at start, the dashboard and `tollgate usage`. Calls are summed by their context's id first, in
// `tollgate_calls` alone, and only those sums (one per context and period) are joined to their contexts
// and grouped by name: the same groups and sums (`tollgate usage --since 30d` on 3M rows: 7.0 s before,
// 3.1 s). A query that names no context (totals, days) joins none.
import type { Dimension, FilterField, UsageQuery } from './ledger.js';
import { dimensionExpr, filterColumn, groupAndOrder, usageSums, USAGE_SUM_NAMES, type Dialect } from './ledger-sql.js';
import { CALLS_TABLE, CONTEXT_COLUMNS, CONTEXTS_TABLE } from './sqlite-rows.js';

const CONTEXT_DIMENSIONS = new Set<Dimension>(['organization', 'project', 'user', 'key', 'groups', 'group', 'route', 'model', 'model_id', 'provider', 'endpoint']);

/** The grouped-sum query for `q` over the SQLite ledger's tables; dimension values come back as d0, d1, ... */
export function sqliteUsageSql(q: UsageQuery, dialect: Dialect): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const add = (v: unknown): string => {
    params.push(v);
    return dialect.param(params.length);
  };
  // A call's own dimensions (status, decision, usage source, time bucket, tags) are grouped with its
  // context id; the context's (names) after the join. Parameters bind in the order they appear in the
  // text: inner first.
  const own = q.groupBy.flatMap((d, i) => (CONTEXT_DIMENSIONS.has(d) ? [] : [{ i, expr: dimensionExpr(d, q, dialect, add) }]));
  const where: string[] = [];
  if (q.sinceMs !== undefined) where.push(`ts >= ${add(Math.floor(q.sinceMs))}`);
  if (q.untilMs !== undefined) where.push(`ts < ${add(Math.ceil(q.untilMs))}`);
  const contextFilters = Object.entries(q.where ?? {}).flatMap(([field, value]) =>
    value === undefined ? [] : [`${filterColumn(field as FilterField)} = ${add(value)}`],
  );
  if (contextFilters.length > 0) where.push(`context_id IN (SELECT id FROM ${CONTEXTS_TABLE} WHERE ${contextFilters.join(' AND ')})`);
  const filter = where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '';
  // Calls are appended in time order, so a period is one range of the time index. With a filter on
  // contexts and no end, SQLite's estimate otherwise picks reading the whole table: at start-up, with
  // nothing cached, that is every page of a file of months of rows to sum the last few days.
  const calls = q.sinceMs !== undefined ? `${CALLS_TABLE} INDEXED BY ${CALLS_TABLE}_ts_request` : CALLS_TABLE;
  // Grouped by the call's own columns only (totals, days): no context is named, so none is joined.
  if (own.length === q.groupBy.length) {
    const flat = `SELECT ${[...own.map((o) => `${o.expr} AS d${o.i}`), ...usageSums(dialect)].join(', ')} FROM ${calls}${filter}`;
    return { sql: flat + groupAndOrder(own.length), params };
  }
  const inner =
    `SELECT context_id, ${[...own.map((o) => `${o.expr} AS o${o.i}`), ...usageSums(dialect)].join(', ')} FROM ${calls}${filter}` +
    ` GROUP BY ${['context_id', ...own.map((o) => `o${o.i}`)].join(', ')}`;
  const noParams = (): string => {
    throw new Error('a context dimension takes no parameter');
  };
  const dims = q.groupBy.map((d, i) => (CONTEXT_DIMENSIONS.has(d) ? `${qualify(dimensionExpr(d, q, dialect, noParams))} AS d${i}` : `r.o${i} AS d${i}`));
  const sums = USAGE_SUM_NAMES.map((name) => `${dialect.num(`sum(r.${name})`)} AS ${name}`);
  const sql =
    `SELECT ${[...dims, ...sums].join(', ')} FROM (${inner}) r JOIN ${CONTEXTS_TABLE} c ON c.id = r.context_id` +
    (q.groupBy.includes('group') ? ` ${dialect.eachGroup('c.key_groups')}` : '') +
    groupAndOrder(q.groupBy.length);
  return { sql, params };
}

/** A context dimension's expression with its columns read from the contexts table (`c.`). */
function qualify(expr: string): string {
  return expr.replace(/\b[a-z_]+\b/g, (word) => ((CONTEXT_COLUMNS as readonly string[]).includes(word) ? `c.${word}` : word));
}
