// Every table of a tenant-data shard (PostgreSQL engine), for drizzle-kit and the typed client.
export { pgEntries as entries, pgEntryTags as entryTags } from "../entries/table";
export { pgShardTenants as shardTenants } from "../shards/tenant-table";
