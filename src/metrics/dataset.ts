import type { TableDataset } from "../datasets/dataset";
import { metricMinutes, metricTenantTotals } from "./table";

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
