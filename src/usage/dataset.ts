import type { TableDataset } from "../datasets/dataset";
import { usageDaily, usageHourly, usageRecords } from "./table";

/** The ids of the tenant's usage records already applied (deduplication), kept 14 days. */
export const usageRecordIds = {
  name: "usage-record-ids",
  home: "control",
  description: "Ids of the tenant's usage records applied, so a record delivered twice counts once",
  tables: { sqlite: usageRecords },
  tenantKey: "tenantId",
  orderKey: ["id"],
} satisfies TableDataset;

/** The tenant's usage per meter and hour. */
export const usageHours = {
  name: "usage-hours",
  home: "control",
  description: "The tenant's metered usage per hour: API calls, egress bytes, entries written, exports, stored bytes",
  tables: { sqlite: usageHourly },
  tenantKey: "tenantId",
  orderKey: ["meter", "hour"],
} satisfies TableDataset;

/** The tenant's usage per meter and day, aggregated at 01:00. */
export const usageDays = {
  name: "usage-days",
  home: "control",
  description: "The tenant's metered usage per UTC day, aggregated from its hours",
  tables: { sqlite: usageDaily },
  tenantKey: "tenantId",
  orderKey: ["meter", "day"],
} satisfies TableDataset;
