import type { Actor } from "../auth/actor";
import type { JsonValue } from "../datasets/canonical";
import { shardColumn as column, shardTable } from "../db/shard-columns";

/**
 * The tenant's event feed, in its shard: every change to the tenant's data, in the order the
 * changes committed. An entry write inserts its event in its own transaction; control-plane
 * changes (tenant, users, keys) reach it from the control database's outbox (src/events/relay.ts).
 * `seq` counts the tenant's events from 1 without gaps; the relay sets `published_at` once the
 * event is on the events queue.
 */
const eventTables = shardTable(
  "events",
  {
    tenantId: column.key("tenant_id"),
    seq: column.int("seq"),
    type: column.key("type"),
    subjectType: column.key("subject_type"),
    subjectId: column.key("subject_id"),
    data: column.json<JsonValue>("data"),
    occurredAt: column.epochMs("occurred_at"),
    requestId: column.optionalKey("request_id"),
    actor: column.json<Actor>("actor"),
    /** The control outbox row it was relayed from, so a relay run twice adds it once. */
    origin: column.optionalKey("origin"),
    publishedAt: column.optionalEpochMs("published_at"),
  },
  {
    primaryKey: ["tenantId", "seq"],
    indexes: {
      events_unpublished_idx: ["publishedAt", "tenantId", "seq"],
      events_origin_idx: ["tenantId", "origin"],
    },
  },
);

export const events = eventTables.sqlite;
export const pgEvents = eventTables.pg;
export type EventRow = typeof events.$inferSelect;
