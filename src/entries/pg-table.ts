import { bigint, customType, index, integer, jsonb, pgTable, primaryKey } from "drizzle-orm/pg-core";

/**
 * Text compared byte by byte, as SQLite compares it: keyset pages over ULID ids and tags then
 * order the same on both engines, whatever collation the database was created with.
 */
export const binaryText = customType<{ data: string; driverData: string }>({ dataType: () => 'text COLLATE "C"' });

/** Epoch milliseconds as a JS number, like the D1 columns (bigint: past 2038 in ms needs 64 bits). */
export const epochMs = (name: string) => bigint(name, { mode: "number" });

/** Tenant JSON documents on a PostgreSQL shard; the same columns and JS shape as src/entries/table.ts. */
export const entries = pgTable(
  "entries",
  {
    tenantId: binaryText("tenant_id").notNull(),
    id: binaryText("id").notNull(),
    data: jsonb("data").$type<Record<string, unknown>>().notNull(),
    tags: jsonb("tags").$type<string[]>().notNull(),
    version: integer("version").notNull(),
    sizeBytes: integer("size_bytes").notNull(),
    createdAt: epochMs("created_at").notNull(),
    updatedAt: epochMs("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.id] })],
);

/** One row per (entry, tag), kept by triggers, so a tag filter is an index range, not a JSON scan. */
export const entryTags = pgTable(
  "entry_tags",
  {
    tenantId: binaryText("tenant_id").notNull(),
    tag: binaryText("tag").notNull(),
    entryId: binaryText("entry_id").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.tag, t.entryId] }),
    index("entry_tags_entry_idx").on(t.tenantId, t.entryId),
  ],
);
