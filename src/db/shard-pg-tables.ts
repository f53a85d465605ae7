// Every table of a tenant-data shard (PostgreSQL engine), for drizzle-kit and the typed client.
export { entries, entryTags } from "../entries/pg-table";
export { shardTenants } from "../shards/pg-tenant-table";
