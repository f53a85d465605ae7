import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { epochMs, jsonText } from "../db/columns";
import { shardColumn as column, shardTable } from "../db/shard-columns";
import type { AuditContext, AuditTarget } from "./record";

// The audit trails: each tenant's in its shard (residency holds for the addresses they carry, and
// moves take them along), the platform's in the control database. A record's `prev_hash` and
// `hash` are filled by the chainer (src/audit/chainer.ts) in `seq` order after it commits.

const auditColumns = {
  seq: column.int("seq"),
  action: column.key("action"),
  actorType: column.key("actor_type"),
  actorId: column.optionalKey("actor_id"),
  actorKeyPrefix: column.optionalKey("actor_key_prefix"),
  targets: column.jsonText<AuditTarget[]>("targets"),
  context: column.jsonText<AuditContext>("context"),
  outcomeStatus: column.int("outcome_status"),
  occurredAt: column.epochMs("occurred_at"),
  /** The control outbox row it was relayed from, so a relay run twice adds it once. */
  origin: column.optionalKey("origin"),
  prevHash: column.optionalKey("prev_hash"),
  hash: column.optionalKey("hash"),
};

const auditTables = shardTable(
  "audit_events",
  { tenantId: column.key("tenant_id"), ...auditColumns },
  {
    primaryKey: ["tenantId", "seq"],
    indexes: {
      audit_events_unchained_idx: ["hash", "tenantId", "seq"],
      audit_events_origin_idx: ["tenantId", "origin"],
    },
  },
);

/** Signed statements that the tenant's chain had this hash at this seq (src/audit/checkpoints.ts). */
const checkpointTables = shardTable(
  "audit_checkpoints",
  {
    tenantId: column.key("tenant_id"),
    seq: column.int("seq"),
    hash: column.key("hash"),
    signedAt: column.epochMs("signed_at"),
    signature: column.key("signature"),
  },
  { primaryKey: ["tenantId", "seq"] },
);

export const auditEvents = auditTables.sqlite;
export const pgAuditEvents = auditTables.pg;
export const auditCheckpoints = checkpointTables.sqlite;
export const pgAuditCheckpoints = checkpointTables.pg;
export type AuditRow = typeof auditEvents.$inferSelect;
export type CheckpointRow = typeof auditCheckpoints.$inferSelect;

/** The platform's trail: security events that name no tenant (unknown keys), platform-admin actions. */
export const platformAuditEvents = sqliteTable("platform_audit_events", {
  seq: integer("seq").primaryKey(),
  action: text("action").notNull(),
  actorType: text("actor_type").notNull(),
  actorId: text("actor_id"),
  actorKeyPrefix: text("actor_key_prefix"),
  targets: jsonText<AuditTarget[]>("targets").notNull(),
  context: jsonText<AuditContext>("context").notNull(),
  outcomeStatus: integer("outcome_status").notNull(),
  occurredAt: epochMs("occurred_at").notNull(),
  prevHash: text("prev_hash"),
  hash: text("hash"),
});

export const platformAuditCheckpoints = sqliteTable("platform_audit_checkpoints", {
  seq: integer("seq").primaryKey(),
  hash: text("hash").notNull(),
  signedAt: epochMs("signed_at").notNull(),
  signature: text("signature").notNull(),
});
