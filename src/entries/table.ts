import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { epochMs, jsonText } from "../db/columns";

/** Tenant JSON documents, stored in the tenant's shard. */
export const entries = sqliteTable(
  "entries",
  {
    tenantId: text("tenant_id").notNull(),
    id: text("id").notNull(),
    data: jsonText<Record<string, unknown>>("data").notNull(),
    tags: jsonText<string[]>("tags").notNull(),
    version: integer("version").notNull(),
    sizeBytes: integer("size_bytes").notNull(),
    createdAt: epochMs("created_at").notNull(),
    updatedAt: epochMs("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.id] })],
);

/** One row per (entry, tag) so a tag filter is an index range, not a JSON scan. */
export const entryTags = sqliteTable(
  "entry_tags",
  {
    tenantId: text("tenant_id").notNull(),
    tag: text("tag").notNull(),
    entryId: text("entry_id").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.tag, t.entryId] }),
    index("entry_tags_entry_idx").on(t.tenantId, t.entryId),
  ],
);

export type Entry = typeof entries.$inferSelect;
