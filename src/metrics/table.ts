import { index, integer, primaryKey, real, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { Series } from "./cell";
import { BUCKETS_MS } from "./histogram";

/** A cell's figures (src/metrics/cell.ts) as columns; b0…b11 are the latency buckets, b11 is +Inf. */
const figures = () => ({
  count: integer("count").notNull(),
  s2xx: integer("s2xx").notNull(),
  s3xx: integer("s3xx").notNull(),
  s4xx: integer("s4xx").notNull(),
  s5xx: integer("s5xx").notNull(),
  sumMs: real("sum_ms").notNull(),
  bytes: integer("bytes").notNull(),
  ...bucketColumns(),
});

function bucketColumns() {
  const columns: Record<string, ReturnType<typeof integer>> = {};
  for (let i = 0; i <= BUCKETS_MS.length; i++) columns[`b${i}`] = integer(`b${i}`).notNull();
  return columns as Record<`b${number}`, ReturnType<typeof integer>>;
}

/**
 * A tenant's metrics per minute, as its gate sent them (set, never added to, so a cell sent again
 * changes nothing). Kept METRICS_RETENTION_DAYS for GET /v1/tenants/:id/metrics and the ranking of
 * tenants by traffic.
 */
export const metricMinutes = sqliteTable(
  "metric_minutes",
  {
    tenantId: text("tenant_id").notNull(),
    minute: integer("minute").notNull(),
    tier: text("tier").notNull(),
    series: text("series").$type<Series>().notNull(),
    label: text("label").notNull(),
    ...figures(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.minute, t.tier, t.series, t.label] }),
    index("metric_minutes_minute_idx").on(t.minute, t.series),
  ],
);

/**
 * A tenant's figures since its first request, per tier, series and label: the per-tenant counters
 * of /metrics, which must never go down (retention drops minutes, never these).
 */
export const metricTenantTotals = sqliteTable(
  "metric_tenant_totals",
  {
    tenantId: text("tenant_id").notNull(),
    tier: text("tier").notNull(),
    series: text("series").$type<Series>().notNull(),
    label: text("label").notNull(),
    ...figures(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.tier, t.series, t.label] })],
);

/** Every tenant's figures added up per tier, series and label: the tier- and platform-level counters of /metrics. */
export const metricTierTotals = sqliteTable(
  "metric_tier_totals",
  {
    tier: text("tier").notNull(),
    series: text("series").$type<Series>().notNull(),
    label: text("label").notNull(),
    ...figures(),
  },
  (t) => [primaryKey({ columns: [t.tier, t.series, t.label] })],
);

export type MetricFigures = typeof metricTierTotals.$inferSelect;

/**
 * Shard calls slower than SLOW_QUERY_MS, as the tenants' gates sent them: the store method's name
 * (never its arguments), how long, whether it failed, and the request's route template. Ids are
 * ULIDs given by the gate, so a call sent twice is one row and the newest sort first.
 */
export const slowQueries = sqliteTable(
  "slow_queries",
  {
    id: text("id").primaryKey(),
    shardId: text("shard_id").notNull(),
    tenantId: text("tenant_id").notNull(),
    at: integer("at").notNull(),
    name: text("name").notNull(),
    ms: real("ms").notNull(),
    /** 1 when the call failed. */
    failed: integer("failed").notNull(),
    route: text("route"),
  },
  (t) => [
    index("slow_queries_shard_idx").on(t.shardId, t.id),
    index("slow_queries_tenant_idx").on(t.tenantId),
    index("slow_queries_at_idx").on(t.at),
  ],
);

export type SlowQuery = typeof slowQueries.$inferSelect;
