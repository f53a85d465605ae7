import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { epochMs, jsonText } from "../db/columns";
import { tenants } from "../tenants/table";

/**
 * A single-use ticket for opening the tenant's event stream: browsers cannot send an
 * Authorization header on a WebSocket, and a key in a URL ends up in logs. Stored by the SHA-256
 * of its secret, like a key; valid 60 s, spent by the first connection that shows it.
 */
export const streamTickets = sqliteTable(
  "stream_tickets",
  {
    id: text("id").primaryKey(),
    /** The ticket secret's SHA-256, hex; never exported (a copy of the row opens nothing). */
    secretHash: text("secret_hash"),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    /** The key that asked for it: its connection closes when the key is revoked. */
    keyId: text("key_id").notNull(),
    /** Event types or patterns the connection receives; null: every type. */
    types: jsonText<string[]>("types"),
    expiresAt: epochMs("expires_at").notNull(),
    usedAt: epochMs("used_at"),
    createdAt: epochMs("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("stream_tickets_secret_idx").on(t.secretHash),
    index("stream_tickets_tenant_idx").on(t.tenantId, t.id),
    index("stream_tickets_expiry_idx").on(t.expiresAt),
  ],
);

export type StreamTicket = typeof streamTickets.$inferSelect;

/**
 * Each tenant's stream counters as its hub last reported them (a few seconds after a change), so
 * /metrics can add them up without asking every hub. A report older than the row is ignored.
 */
export const streamCounters = sqliteTable("stream_counters", {
  tenantId: text("tenant_id").primaryKey(),
  active: integer("active").notNull(),
  opened: integer("opened").notNull(),
  refused: integer("refused").notNull(),
  dropped: integer("dropped").notNull(),
  resyncs: integer("resyncs").notNull(),
  coalesced: integer("coalesced").notNull(),
  reportedAt: epochMs("reported_at").notNull(),
});
