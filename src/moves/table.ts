import { notInArray, sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { epochMs, leasedStepColumns } from "../db/columns";

/**
 * A tenant move's steps, in order. `cleaning-up` starts once the tenant's route names the target:
 * from there the move can only finish, never roll back.
 */
export const MOVE_STATES = [
  "queued",
  "copying",
  "syncing",
  "cutting-over",
  "cleaning-up",
  "completed",
  "failed",
] as const;
export type MoveState = (typeof MOVE_STATES)[number];
export const FINISHED_STATES: readonly MoveState[] = ["completed", "failed"];

/** One online move of a tenant's data from one shard to another (src/moves/job.ts runs it). */
export const tenantMoves = sqliteTable(
  "tenant_moves",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    sourceShardId: text("source_shard_id").notNull(),
    targetShardId: text("target_shard_id").notNull(),
    state: text("state").$type<MoveState>().notNull(),
    /** Where the bulk copy has got to: a dataset and the last key copied in it (src/moves/transfer.ts). */
    copyCursor: text("copy_cursor"),
    rowsTotal: integer("rows_total"),
    rowsCopied: integer("rows_copied").notNull().default(0),
    /** Entries the final check found identical on both shards, and the checksum they share. */
    rowsVerified: integer("rows_verified"),
    checksum: text("checksum"),
    /** The lease of its steps; `attempts`: steps that failed in a row, reset by one that succeeds. */
    ...leasedStepColumns(),
    createdAt: epochMs("created_at").notNull(),
    updatedAt: epochMs("updated_at").notNull(),
    switchedAt: epochMs("switched_at"),
    finishedAt: epochMs("finished_at"),
  },
  (t) => [
    // At most one unfinished move per tenant, enforced by the database.
    uniqueIndex("tenant_moves_one_running").on(t.tenantId).where(sql`${t.state} NOT IN ('completed', 'failed')`),
    index("tenant_moves_tenant_idx").on(t.tenantId, t.id),
    index("tenant_moves_state_idx").on(t.state, t.updatedAt),
  ],
);

export type TenantMove = typeof tenantMoves.$inferSelect;

/** A move that is still under way (a step may yet run), as a query condition. */
export const unfinished = () => notInArray(tenantMoves.state, [...FINISHED_STATES]);
