import type { TableDataset } from "../datasets/dataset";
import { tenants } from "./table";

/** The tenant's own row. */
export const tenantRow = {
  name: "tenant",
  home: "control",
  description: "The tenant itself: name, slug, tier, status, data region, shard, limit overrides",
  tables: { sqlite: tenants },
  tenantKey: "id",
  orderKey: ["id"],
  version: "updatedAt",
} satisfies TableDataset;
