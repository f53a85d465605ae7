import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { epochMs, jsonText } from "../db/columns";

/** The queues whose messages end on the dead-letter queue, as a dead letter names them. */
export const DEAD_LETTER_SOURCES = ["lifecycle", "events", "usage", "webhooks"] as const;
export type DeadLetterSource = (typeof DEAD_LETTER_SOURCES)[number];

/**
 * A message set aside on the dead-letter queue (it exhausted its retries, or no job could read
 * it), as its consumer (src/dead-letters/consumer.ts) stored it for an operator to see and replay.
 */
export const deadLetters = sqliteTable(
  "dead_letters",
  {
    id: text("id").primaryKey(),
    /** The dead-letter queue's id of the message: one row however often it is delivered. */
    messageId: text("message_id").notNull().unique(),
    source: text("source").$type<DeadLetterSource>().notNull(),
    /** The lifecycle message's kind; null for an event, or a body with none. */
    kind: text("kind"),
    /** The tenant the message is about, when it names one (its body is that tenant's data). */
    tenantId: text("tenant_id"),
    body: jsonText<unknown>("body").notNull(),
    receivedAt: epochMs("received_at").notNull(),
    replays: integer("replays").notNull().default(0),
    replayedAt: epochMs("replayed_at"),
  },
  (t) => [index("dead_letters_tenant_idx").on(t.tenantId, t.id), index("dead_letters_received_idx").on(t.receivedAt)],
);

export type DeadLetter = typeof deadLetters.$inferSelect;
