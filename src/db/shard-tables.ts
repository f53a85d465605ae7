// Every table of a tenant-data shard (SQLite engine), for drizzle-kit and the typed client.
export { auditCheckpoints, auditEvents } from "../audit/table";
export { entries, entryTags } from "../entries/table";
export { events } from "../events/table";
export { shardTenants } from "../shards/tenant-table";
