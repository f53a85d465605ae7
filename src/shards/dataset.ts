import type { TableDataset } from "../datasets/dataset";
import { pgShardTenants, shardTenants } from "./tenant-table";

/**
 * The shard's record that it holds the tenant, with its usage counters and storage limits.
 * Registering the tenant creates it and the entries' triggers keep its counters, so it is not
 * copied as rows: a move registers the tenant on the target and the copied entries count themselves.
 */
export const shardRegistration = {
  name: "shard-registration",
  home: "shard",
  description: "That the shard holds the tenant: usage counters and the storage limits its triggers enforce",
  tables: { sqlite: shardTenants, pg: pgShardTenants },
  tenantKey: "tenantId",
  orderKey: ["tenantId"],
  derivedFrom: "entries (triggers) and provisioning",
} satisfies TableDataset;
