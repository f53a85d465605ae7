// Bundled as text by wrangler's default `*.sql` rule, so the Worker can migrate a shard itself.
import type { ShardMigration } from "../../src/db/sql";
import init from "./0000_init.sql";
import entryTagTriggers from "./0001_entry_tag_triggers.sql";
import usageTriggers from "./0002_usage_triggers.sql";
import eventsAndAudit from "./0003_events_and_audit.sql";

/**
 * Every migration of a PostgreSQL shard, in the order they apply; `name` is the drizzle journal's
 * tag. A new migration is appended here too (test/shards/migrations.node.test.ts checks).
 */
export const PG_SHARD_MIGRATIONS: readonly ShardMigration[] = [
  { name: "0000_init", sql: init },
  { name: "0001_entry_tag_triggers", sql: entryTagTriggers },
  { name: "0002_usage_triggers", sql: usageTriggers },
  { name: "0003_events_and_audit", sql: eventsAndAudit },
];
