import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { epochMs, jsonText } from "../db/columns";

/**
 * How far the feed consumer (src/events/consumer.ts) has got in each tenant's feed: every event up
 * to `through_seq` has been delivered, and so have the later ones in `ahead` (deliveries come in any
 * order). `version` makes each update conditional on the state it read.
 */
export const eventCursors = sqliteTable("event_cursors", {
  tenantId: text("tenant_id").primaryKey(),
  throughSeq: integer("through_seq").notNull(),
  ahead: jsonText<number[]>("ahead").notNull(),
  delivered: integer("delivered").notNull(),
  duplicates: integer("duplicates").notNull(),
  version: integer("version").notNull(),
  updatedAt: epochMs("updated_at").notNull(),
});

export type EventCursor = typeof eventCursors.$inferSelect;
