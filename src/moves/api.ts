import { z } from "@hono/zod-openapi";
import { idSchema, iso, TenantParams, Timestamp } from "../http/api";
import { ShardId } from "../shards/api";
import { MOVE_STATES, type TenantMove } from "./table";

export const StartMoveBody = z
  .object({
    target_shard: ShardId.openapi({
      description: "An active shard that fits the tenant's plan (shared or dedicated) and data region",
    }),
  })
  .strict()
  .openapi("StartMove");

export const MoveParams = TenantParams.extend({
  moveId: idSchema("mov", "mov_01JD8X5Q3M2V7T6R4N9K0B1C2D").openapi({ param: { name: "moveId", in: "path" } }),
});

export const MoveSchema = z
  .object({
    id: z.string(),
    tenant_id: z.string(),
    source_shard: z.string(),
    target_shard: z.string(),
    state: z.enum(MOVE_STATES).openapi({
      description:
        "queued → copying → syncing → cutting-over (writes wait or get 503 tenant-moving) → cleaning-up (the tenant is on the target) → completed; or failed (rolled back: the tenant stays on the source)",
    }),
    rows_total: z.number().int().nullable().openapi({ description: "Entries on the source when the copy began" }),
    rows_copied: z.number().int().openapi({ description: "Entries written to the target, re-copies included" }),
    rows_verified: z.number().int().nullable().openapi({ description: "Entries found identical at the cut-over" }),
    checksum: z.string().nullable().openapi({
      description:
        "SHA-256 over the verified rows of the tenant's shard data (canonical JSON), in dataset then key order",
    }),
    attempts: z.number().int().openapi({ description: "Failed tries of the current step" }),
    error: z.string().nullable().openapi({ description: "Why the last try failed, or why the move failed" }),
    created_at: Timestamp,
    updated_at: Timestamp,
    switched_at: Timestamp.nullable().openapi({ description: "When the tenant's route began naming the target" }),
    finished_at: Timestamp.nullable(),
  })
  .openapi("TenantMove");

export const moveView = (move: TenantMove): z.infer<typeof MoveSchema> => ({
  id: move.id,
  tenant_id: move.tenantId,
  source_shard: move.sourceShardId,
  target_shard: move.targetShardId,
  state: move.state,
  rows_total: move.rowsTotal,
  rows_copied: move.rowsCopied,
  rows_verified: move.rowsVerified,
  checksum: move.checksum,
  attempts: move.attempts,
  error: move.error,
  created_at: iso(move.createdAt) as string,
  updated_at: iso(move.updatedAt) as string,
  switched_at: iso(move.switchedAt),
  finished_at: iso(move.finishedAt),
});
