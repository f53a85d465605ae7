import { shardColumn as column, shardTable } from "../db/shard-columns";

/** Tenant JSON documents, stored in the tenant's shard. */
const entryTables = shardTable(
  "entries",
  {
    tenantId: column.key("tenant_id"),
    id: column.key("id"),
    data: column.json<Record<string, unknown>>("data"),
    tags: column.json<string[]>("tags"),
    version: column.int("version"),
    sizeBytes: column.int("size_bytes"),
    createdAt: column.epochMs("created_at"),
    updatedAt: column.epochMs("updated_at"),
  },
  { primaryKey: ["tenantId", "id"] },
);

/** One row per (entry, tag), kept by triggers, so a tag filter is an index range, not a JSON scan. */
const entryTagTables = shardTable(
  "entry_tags",
  { tenantId: column.key("tenant_id"), tag: column.key("tag"), entryId: column.key("entry_id") },
  { primaryKey: ["tenantId", "tag", "entryId"], indexes: { entry_tags_entry_idx: ["tenantId", "entryId"] } },
);

export const entries = entryTables.sqlite;
export const pgEntries = entryTables.pg;
export const entryTags = entryTagTables.sqlite;
export const pgEntryTags = entryTagTables.pg;

export type Entry = typeof entries.$inferSelect;
