import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { epochMs, jsonText } from "../db/columns";

/**
 * What the control database owes a tenant's shard: the events of control-plane changes (written
 * in the change's own batch) and the audit records of requests that changed no shard row. The
 * relay (src/events/relay.ts) appends each to the tenant's feed or audit trail there and deletes
 * it here; a row the relay carried twice is added once (its id is the shard row's `origin`).
 */
export const outbox = sqliteTable(
  "outbox",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    tenantId: text("tenant_id").notNull(),
    kind: text("kind").$type<"event" | "audit">().notNull(),
    payload: jsonText<Record<string, unknown>>("payload").notNull(),
    createdAt: epochMs("created_at").notNull(),
  },
  (t) => [index("outbox_tenant_idx").on(t.tenantId, t.id)],
);

export type OutboxRow = typeof outbox.$inferSelect;
