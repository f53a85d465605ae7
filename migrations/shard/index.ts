// Bundled as text by wrangler's default `*.sql` rule, so the Worker can migrate a shard itself.
import type { ShardMigration } from "../../src/db/sql";
import init from "./0000_init.sql";
import entryTagTriggers from "./0001_entry_tag_triggers.sql";
import shardUsage from "./0002_shard_usage.sql";
import usageTriggers from "./0003_usage_triggers.sql";
import eventsAndAudit from "./0004_events_and_audit.sql";

/**
 * Every migration of a D1 shard, in the order they apply; `name` is the drizzle journal's tag. A
 * new migration is appended here too (test/shards/migrations.node.test.ts checks).
 */
export const D1_SHARD_MIGRATIONS: readonly ShardMigration[] = [
  { name: "0000_init", sql: init },
  { name: "0001_entry_tag_triggers", sql: entryTagTriggers },
  { name: "0002_shard_usage", sql: shardUsage },
  { name: "0003_usage_triggers", sql: usageTriggers },
  { name: "0004_events_and_audit", sql: eventsAndAudit },
];
