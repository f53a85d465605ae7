import type { TableDataset } from "../datasets/dataset";
import { auditCheckpoints, auditEvents, pgAuditCheckpoints, pgAuditEvents } from "./table";

/** The tenant's audit trail, hash-chained in seq order. */
export const auditTrail = {
  name: "audit-events",
  home: "shard",
  description: "Every request that changed or tried to change the tenant's data, and its refusals, hash-chained",
  tables: { sqlite: auditEvents, pg: pgAuditEvents },
  tenantKey: "tenantId",
  orderKey: ["seq"],
  // A record never changes once written but for the chainer's link, which a target recomputes alike.
  bookkeeping: ["prevHash", "hash"],
  appendOnly: true,
} satisfies TableDataset;

/** Signed statements of the chain's hash at a seq: where verification may start. */
export const auditCheckpointSet = {
  name: "audit-checkpoints",
  home: "shard",
  description: "HMAC-signed checkpoints of the tenant's audit chain",
  tables: { sqlite: auditCheckpoints, pg: pgAuditCheckpoints },
  tenantKey: "tenantId",
  orderKey: ["seq"],
  // Not append-only: retention signs one below the newest. They are few, so a full diff is cheap.
} satisfies TableDataset;
