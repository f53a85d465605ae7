// Every table of a tenant-data shard (SQLite engine), for drizzle-kit and the typed client.
export { entries, entryTags } from "../entries/schema";
export { shardTenants } from "../shards/tenant-schema";
