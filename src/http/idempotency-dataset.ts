import { sql } from "drizzle-orm";
import type { TableDataset } from "../datasets/dataset";
import { apiKeys } from "../keys/table";
import { idempotencyRecords } from "./idempotency-table";

/** Stored first responses of the tenant's keys' POSTs; a record belongs to the tenant of its key. */
export const idempotencyData = {
  name: "idempotency-records",
  home: "control",
  description:
    "The first response to each POST the tenant's keys sent with an Idempotency-Key (sealed), until it expires",
  tables: { sqlite: idempotencyRecords },
  owned: (t, tenantId) =>
    sql`${t.principal} IN (SELECT ${apiKeys.id} FROM ${apiKeys} WHERE ${apiKeys.tenantId} = ${tenantId})`,
  orderKey: ["principal", "key"],
} satisfies TableDataset;
