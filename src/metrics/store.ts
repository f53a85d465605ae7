import { and, desc, eq, gte, inArray, lt, sql } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { chunksOf } from "../db/sql";
import { type Cell, COUNTERS, type MinuteRow, type Series } from "./cell";
import { BUCKETS_MS } from "./histogram";
import { type MetricFigures, metricMinutes, metricTenantTotals, metricTierTotals } from "./table";

/** A cell's columns in the tables' order: the counters, then b0…b11. */
const COLUMNS: readonly string[] = [
  "count",
  "s2xx",
  "s3xx",
  "s4xx",
  "s5xx",
  "sum_ms",
  "bytes",
  ...Array.from({ length: BUCKETS_MS.length + 1 }, (_, i) => `b${i}`),
];
const columnList = COLUMNS.join(", ");
const addExcluded = COLUMNS.map((column) => `${column} = ${column} + excluded.${column}`).join(", ");
const setExcluded = COLUMNS.map((column) => `${column} = excluded.${column}`).join(", ");
const placeholders = COLUMNS.map(() => "?").join(", ");
// What a cell adds to the minute's stored row (none yet: all of it), read in the same statement.
const deltas = COLUMNS.map((column) => `? - coalesce(m.${column}, 0)`).join(", ");
const previous = `FROM (SELECT 1) AS one LEFT JOIN metric_minutes AS m ON m.tenant_id = ? AND m.minute = ?
  AND m.tier = ? AND m.series = ? AND m.label = ? WHERE true`;
const ADD_TO_TIER = `INSERT INTO metric_tier_totals (tier, series, label, ${columnList})
  SELECT ?, ?, ?, ${deltas} ${previous} ON CONFLICT (tier, series, label) DO UPDATE SET ${addExcluded}`;
const ADD_TO_TENANT = `INSERT INTO metric_tenant_totals (tenant_id, tier, series, label, ${columnList})
  SELECT ?, ?, ?, ?, ${deltas} ${previous} ON CONFLICT (tenant_id, tier, series, label) DO UPDATE SET ${addExcluded}`;
const SET_MINUTE = `INSERT INTO metric_minutes (tenant_id, minute, tier, series, label, ${columnList})
  VALUES (?, ?, ?, ?, ?, ${placeholders}) ON CONFLICT (tenant_id, minute, tier, series, label) DO UPDATE SET ${setExcluded}`;

const valuesOf = (cell: Cell): number[] => [...COUNTERS.map((name) => cell[name]), ...cell.buckets];

/** Rows of cells sent per batch: three statements each, one transaction. */
const ROWS_PER_BATCH = 25;

/**
 * Stores cells a tenant's gate sent. Each is set on its minute's row; the totals grow by what the
 * cell adds to the row it replaces, read in the same transaction. So a cell sent again (a retried
 * alarm, a restart before the gate marked it sent) adds nothing, and one sent again with later
 * observations adds only those: the totals equal the sum of the minutes, exactly.
 */
export async function storeMinutes(db: ControlDb, tenantId: string, rows: MinuteRow[]) {
  const d1 = db.$client;
  for (const chunk of chunksOf(rows, ROWS_PER_BATCH)) {
    const statements = chunk.flatMap(({ minute, tier, series, label, cell }) => {
      const values = valuesOf(cell);
      const key = [tenantId, minute, tier, series, label];
      return [
        d1.prepare(ADD_TO_TIER).bind(tier, series, label, ...values, ...key),
        d1.prepare(ADD_TO_TENANT).bind(tenantId, tier, series, label, ...values, ...key),
        d1.prepare(SET_MINUTE).bind(...key, ...values),
      ];
    });
    await d1.batch(statements);
  }
}

/** A row of figures (any of the three tables) as a cell. */
export function cellOf(row: Omit<MetricFigures, "tier" | "series" | "label">): Cell {
  const figures = row as unknown as Record<string, number>;
  return {
    count: row.count,
    s2xx: row.s2xx,
    s3xx: row.s3xx,
    s4xx: row.s4xx,
    s5xx: row.s5xx,
    sumMs: row.sumMs,
    bytes: row.bytes,
    buckets: Array.from({ length: BUCKETS_MS.length + 1 }, (_, i) => figures[`b${i}`] ?? 0),
  };
}

/** Column sums of a figures table, for a GROUP BY. */
const summed = (table: typeof metricMinutes) => ({
  count: sql<number>`sum(${table.count})`.mapWith(Number),
  s2xx: sql<number>`sum(${table.s2xx})`.mapWith(Number),
  s3xx: sql<number>`sum(${table.s3xx})`.mapWith(Number),
  s4xx: sql<number>`sum(${table.s4xx})`.mapWith(Number),
  s5xx: sql<number>`sum(${table.s5xx})`.mapWith(Number),
  sumMs: sql<number>`sum(${table.sumMs})`.mapWith(Number),
  bytes: sql<number>`sum(${table.bytes})`.mapWith(Number),
  ...Object.fromEntries(
    Array.from({ length: BUCKETS_MS.length + 1 }, (_, i) => [
      `b${i}`,
      sql<number>`sum(${sql.raw(`"b${i}"`)})`.mapWith(Number),
    ]),
  ),
});

export type LabelledCell = { series: Series; label: string; cell: Cell };

/** The tenant's figures per series and label over the minutes in [from, to). */
export async function tenantFigures(
  db: ControlDb,
  tenantId: string,
  from: number,
  to: number,
): Promise<LabelledCell[]> {
  const rows = await db
    .select({ series: metricMinutes.series, label: metricMinutes.label, ...summed(metricMinutes) })
    .from(metricMinutes)
    .where(and(eq(metricMinutes.tenantId, tenantId), gte(metricMinutes.minute, from), lt(metricMinutes.minute, to)))
    .groupBy(metricMinutes.series, metricMinutes.label);
  return rows.map((row) => ({ series: row.series, label: row.label, cell: cellOf(row as never) }));
}

/** Every tier's totals. */
export async function tierTotals(db: ControlDb) {
  const rows = await db.select().from(metricTierTotals);
  return rows.map((row) => ({ tier: row.tier, series: row.series, label: row.label, cell: cellOf(row) }));
}

/** The `limit` tenants with the most requests in the minutes since `since`, most first (ties by id). */
export async function busiestTenants(db: ControlDb, since: number, limit: number): Promise<string[]> {
  const requests = sql<number>`sum(${metricMinutes.count})`;
  const rows = await db
    .select({ tenantId: metricMinutes.tenantId, requests })
    .from(metricMinutes)
    .where(and(gte(metricMinutes.minute, since), eq(metricMinutes.series, "request")))
    .groupBy(metricMinutes.tenantId)
    .orderBy(desc(requests), metricMinutes.tenantId)
    .limit(limit);
  return rows.map((row) => row.tenantId);
}

/** The totals of the given tenants. */
export async function tenantTotals(db: ControlDb, tenantIds: string[]) {
  const rows = [];
  for (const ids of chunksOf(tenantIds, 90)) {
    rows.push(...(await db.select().from(metricTenantTotals).where(inArray(metricTenantTotals.tenantId, ids))));
  }
  return rows.map((row) => ({ ...row, cell: cellOf(row) }));
}

/** What retention drops: the minutes, and the slow calls (by their time). */
const RETAINED = [
  { table: "metric_minutes", at: "minute" },
  { table: "slow_queries", at: "at" },
] as const;

/** Drops up to `limit` rows older than `before` of one retained table; returns how many went. */
async function dropBefore(db: ControlDb, { table, at }: (typeof RETAINED)[number], before: number, limit: number) {
  const result = await db.run(
    sql`DELETE FROM ${sql.raw(table)} WHERE rowid IN (SELECT rowid FROM ${sql.raw(table)} WHERE ${sql.raw(at)} < ${before} LIMIT ${limit})`,
  );
  return result.meta.changes ?? 0;
}

/** Rows dropped per statement, and statements per run and table, by the hourly retention. */
const RETENTION_BATCH = 5_000;
const RETENTION_BATCHES = 20;

/**
 * Drops minutes and slow calls older than METRICS_RETENTION_DAYS, in bounded statements: an hour's
 * run drops up to 100,000 rows of each, and whatever is left goes with the next. Totals are never dropped.
 */
export async function applyMetricsRetention(db: ControlDb, retentionMs: number, now = Date.now()) {
  let dropped = 0;
  for (const retained of RETAINED) {
    for (let i = 0; i < RETENTION_BATCHES; i++) {
      const n = await dropBefore(db, retained, now - retentionMs, RETENTION_BATCH);
      dropped += n;
      if (n < RETENTION_BATCH) break;
    }
  }
  return dropped;
}
