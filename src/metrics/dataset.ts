import type { TableDataset } from "../datasets/dataset";
import { metricMinutes, metricTenantTotals, slowQueries } from "./table";

/** The tenant's request metrics per minute (src/metrics/store.ts), under retention. */
export const tenantMetricMinutes = {
  name: "metric-minutes",
  home: "control",
  description: "The tenant's request metrics per minute: requests and latency by route, shard calls, gate decisions",
  tables: { sqlite: metricMinutes },
  tenantKey: "tenantId",
  orderKey: ["minute", "tier", "series", "label"],
} satisfies TableDataset;

/** The tenant's metric totals since its first request: its own series in /metrics. */
export const tenantMetricTotals = {
  name: "metric-totals",
  home: "control",
  description: "The tenant's request metrics since its first request, per tier, series and label",
  tables: { sqlite: metricTenantTotals },
  tenantKey: "tenantId",
  orderKey: ["tier", "series", "label"],
} satisfies TableDataset;

/** The tenant's shard calls slower than SLOW_QUERY_MS, under retention. */
export const tenantSlowQueries = {
  name: "slow-queries",
  home: "control",
  description: "The tenant's slow shard calls: the store method's name, duration, shard and route, never arguments",
  tables: { sqlite: slowQueries },
  tenantKey: "tenantId",
  orderKey: ["id"],
} satisfies TableDataset;
