// Every table of a tenant-data shard (PostgreSQL engine), for drizzle-kit and the typed client.
export { pgAuditCheckpoints as auditCheckpoints, pgAuditEvents as auditEvents } from "../audit/table";
export { pgEntries as entries, pgEntryTags as entryTags } from "../entries/table";
export { pgEvents as events } from "../events/table";
export { pgShardTenants as shardTenants } from "../shards/tenant-table";
