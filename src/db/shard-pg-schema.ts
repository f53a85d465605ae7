// Every table of a tenant-data shard (PostgreSQL engine), for drizzle-kit and the typed client.
export { entries, entryTags } from "../entries/pg-schema";
export { shardTenants } from "../shards/pg-tenant-schema";
