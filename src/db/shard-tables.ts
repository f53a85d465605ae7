// Every table of a tenant-data shard (SQLite engine), for drizzle-kit and the typed client.
export { entries, entryTags } from "../entries/table";
export { shardTenants } from "../shards/tenant-table";
