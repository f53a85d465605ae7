import type { TableDataset } from "../datasets/dataset";
import { quotaTrips } from "./table";

/** When each of the tenant's quotas first refused it, per billing period. */
export const quotaTripRecords = {
  name: "quota-trips",
  home: "control",
  description:
    "When each of the tenant's quotas (monthly requests, entries, stored bytes) first refused it in a period",
  tables: { sqlite: quotaTrips },
  tenantKey: "tenantId",
  orderKey: ["id"],
} satisfies TableDataset;
