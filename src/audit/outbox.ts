import type { ControlDb } from "../db/client";
import type { RelayedAudit } from "../events/engines/feed";
import { outbox } from "../events/outbox-table";
import type { NewAuditRecord } from "./record";

/**
 * Writes a tenant's audit record into the control database's outbox (one D1 write), which the
 * relay appends to the tenant's trail in its shard: what a request that changed no shard row does
 * to be recorded before it answers.
 */
export async function recordThroughOutbox(db: ControlDb, tenantId: string, record: NewAuditRecord, now = Date.now()) {
  const payload: RelayedAudit = { ...record, occurredAt: now };
  await db.insert(outbox).values({ tenantId, kind: "audit", payload, createdAt: now });
}
