import { integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { epochMs } from "../db/columns";

/** Stored outcome of a POST sent with an Idempotency-Key, scoped to the caller's key. */
export const idempotencyRecords = sqliteTable(
  "idempotency_records",
  {
    principal: text("principal").notNull(),
    key: text("key").notNull(),
    method: text("method").notNull(),
    path: text("path").notNull(),
    requestHash: text("request_hash").notNull(),
    state: text("state").$type<"in_progress" | "completed">().notNull(),
    status: integer("status"),
    /** Sealed { headers, body } of the first response; see sealed.ts. */
    body: text("body"),
    createdAt: epochMs("created_at").notNull(),
    expiresAt: epochMs("expires_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.principal, t.key] })],
);
