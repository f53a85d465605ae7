import { inArray, notInArray, sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { Actor } from "../auth/actor";
import { epochMs, jsonText, leasedStepColumns } from "../db/columns";
import type { ArchiveKind } from "./format";

/**
 * An archive's life: queued → writing (the ZIP streams into R2) → verifying (read back over
 * ranged GETs: every file's CRC-32, SHA-256 and row count) → completed; or failed. Only a
 * completed archive is ever offered for download or import. A completed export later expires
 * (its object deleted).
 */
export const ARCHIVE_STATES = ["queued", "writing", "verifying", "completed", "failed", "expired"] as const;
export type ArchiveState = (typeof ARCHIVE_STATES)[number];
export const UNFINISHED_ARCHIVE_STATES: readonly ArchiveState[] = ["queued", "writing", "verifying"];

/** One archive of one tenant in the archives bucket (src/archives/job.ts makes it). */
export const tenantArchives = sqliteTable(
  "tenant_archives",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    kind: text("kind").$type<ArchiveKind>().notNull(),
    state: text("state").$type<ArchiveState>().notNull(),
    /** Its object in the archives bucket. */
    objectKey: text("object_key").notNull(),
    /** The shard the rows were read from. */
    shardId: text("shard_id"),
    /** Rows written so far by the try under way (progress), then the archive's rows. */
    rowsWritten: integer("rows_written").notNull().default(0),
    /** The tenant's rows when the archive was asked for (an estimate of the total, for progress). */
    rowsExpected: integer("rows_expected"),
    rows: integer("rows"),
    /** The ZIP's size. */
    bytes: integer("bytes"),
    formatVersion: integer("format_version"),
    /** SHA-256 of its manifest.json, kept apart from the object so a changed archive is noticed. */
    manifestSha256: text("manifest_sha256"),
    /** The tenant's feed around the read (see the manifest's `feed`), for a point-in-time restore. */
    feedBeforeSeq: integer("feed_before_seq"),
    feedAfterSeq: integer("feed_after_seq"),
    /** The lease of its steps; `attempts`: failed tries over the whole archive, reset once it completes. */
    ...leasedStepColumns(),
    /** Who asked for it, and in which request: the origin of the events it announces. */
    requestedBy: jsonText<Actor>("requested_by").notNull(),
    requestId: text("request_id"),
    createdAt: epochMs("created_at").notNull(),
    updatedAt: epochMs("updated_at").notNull(),
    completedAt: epochMs("completed_at"),
    /** When a completed archive's object goes (exports); null: kept until retention or deletion. */
    expiresAt: epochMs("expires_at"),
    /** What makes a scheduled archive once only (`daily:2026-12-01` for the day's backup). */
    dedupeKey: text("dedupe_key"),
  },
  (t) => [
    // One archive of a kind under way per tenant at a time, enforced by the database.
    uniqueIndex("tenant_archives_one_running")
      .on(t.tenantId, t.kind)
      .where(sql`${t.state} IN ('queued', 'writing', 'verifying')`),
    index("tenant_archives_tenant_idx").on(t.tenantId, t.kind, t.id),
    index("tenant_archives_state_idx").on(t.state, t.nextStepAt),
    index("tenant_archives_expiry_idx").on(t.expiresAt),
    uniqueIndex("tenant_archives_dedupe").on(t.tenantId, t.kind, t.dedupeKey),
  ],
);

export type TenantArchive = typeof tenantArchives.$inferSelect;

export const unfinishedArchive = () => inArray(tenantArchives.state, [...UNFINISHED_ARCHIVE_STATES]);
export const finishedArchive = () => notInArray(tenantArchives.state, [...UNFINISHED_ARCHIVE_STATES]);
