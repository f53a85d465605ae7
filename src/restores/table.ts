import { inArray, sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { Actor } from "../auth/actor";
import { epochMs, jsonText, leasedStepColumns } from "../db/columns";

/**
 * What a restore makes, from an archive (a backup, a hibernation archive) or the live rows:
 * - rehydrate: an ARCHIVED tenant's every shard dataset back onto a shard, exactly as archived;
 * - restore: the tenant's entries, in place, as of a backup or a moment (a point-in-time restore);
 * - clone: a new tenant holding the entries of another, as they are or as of a backup or a moment.
 */
export const RESTORE_KINDS = ["rehydrate", "restore", "clone"] as const;
export type RestoreKind = (typeof RESTORE_KINDS)[number];

/**
 * queued → importing (the source's rows into the target, or into a staging copy for a restore in
 * place) → replaying (the source's events after the snapshot, up to the moment asked for) →
 * applying (in place only: the differences written to the live rows behind the write fence) →
 * verifying (checksums) → completed; or failed. Nothing is offered as restored before completed.
 */
export const RESTORE_STATES = [
  "queued",
  "importing",
  "replaying",
  "applying",
  "verifying",
  "completed",
  "failed",
] as const;
export type RestoreState = (typeof RESTORE_STATES)[number];
export const UNFINISHED_RESTORE_STATES: readonly RestoreState[] = [
  "queued",
  "importing",
  "replaying",
  "applying",
  "verifying",
];

export const tenantRestores = sqliteTable(
  "tenant_restores",
  {
    id: text("id").primaryKey(),
    kind: text("kind").$type<RestoreKind>().notNull(),
    /** The tenant whose data is restored (a clone's source). */
    tenantId: text("tenant_id").notNull(),
    /** The tenant the rows land in: the same one, or the clone. */
    targetTenantId: text("target_tenant_id").notNull(),
    state: text("state").$type<RestoreState>().notNull(),
    /** The archive read (a backup, a hibernation archive); null: the live rows. */
    archiveId: text("archive_id"),
    /** The shard the rows land on. */
    targetShardId: text("target_shard_id"),
    /** A restore in place builds the tenant's entries under this id on its shard, then applies the difference. */
    stagingId: text("staging_id"),
    /** The moment asked for (a point-in-time restore); null: as of the snapshot. */
    at: epochMs("at"),
    /** The source's feed: events after `from_seq` up to `to_seq` are replayed; `replayed_seq` how far. */
    fromSeq: integer("from_seq"),
    toSeq: integer("to_seq"),
    replayedSeq: integer("replayed_seq"),
    eventsApplied: integer("events_applied").notNull().default(0),
    rowsImported: integer("rows_imported").notNull().default(0),
    /** A restore in place: entries written (created, replaced, deleted) and the last key diffed. */
    rowsChanged: integer("rows_changed").notNull().default(0),
    applyCursor: text("apply_cursor"),
    /** SHA-256 of the restored entries' content (see src/restores/checksum.ts). */
    checksum: text("checksum"),
    ...leasedStepColumns(),
    requestedBy: jsonText<Actor>("requested_by").notNull(),
    requestId: text("request_id"),
    createdAt: epochMs("created_at").notNull(),
    updatedAt: epochMs("updated_at").notNull(),
    completedAt: epochMs("completed_at"),
  },
  (t) => [
    // One restore under way per tenant, whichever side of it the tenant is on.
    uniqueIndex("tenant_restores_one_running")
      .on(t.tenantId)
      .where(sql`${t.state} IN ('queued', 'importing', 'replaying', 'applying', 'verifying')`),
    index("tenant_restores_tenant_idx").on(t.tenantId, t.id),
    index("tenant_restores_target_idx").on(t.targetTenantId),
    index("tenant_restores_state_idx").on(t.state, t.nextStepAt),
  ],
);

export type TenantRestore = typeof tenantRestores.$inferSelect;

export const unfinishedRestore = () => inArray(tenantRestores.state, [...UNFINISHED_RESTORE_STATES]);
