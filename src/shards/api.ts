import { z } from "@hono/zod-openapi";
import { iso, Timestamp } from "../http/api";
import type { ShardWithCounts } from "./service";
import { SHARD_ENGINES, SHARD_HEALTH, SHARD_STATUSES } from "./table";

export const ShardId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "a shard id")
  .openapi({ example: "d1-shared-0" });

export const ShardParams = z.object({ shardId: ShardId.openapi({ param: { name: "shardId", in: "path" } }) });

export const ShardSchema = z
  .object({
    id: z.string(),
    engine: z.enum(SHARD_ENGINES),
    binding: z.string().openapi({ description: "The Worker binding that reaches the database" }),
    region: z.string().nullable().openapi({ description: "Data region; tenants with this data_region go only here" }),
    dedicated: z.boolean().openapi({ description: "Dedicated shards take only plans with a dedicated shard" }),
    status: z.enum(SHARD_STATUSES).openapi({
      description:
        "The operator's: `active` takes new tenants; `draining` and `unhealthy` take none; `read-only` takes none and refuses its tenants' writes",
    }),
    accepts_tenants: z.boolean().openapi({ description: "active, and not found unhealthy by the last probe" }),
    tenant_count: z.number().int(),
    entry_count: z.number().int().openapi({ description: "As of the last probe" }),
    stored_bytes: z.number().int().openapi({ description: "Entry data bytes, as of the last probe" }),
    health: z.object({
      state: z.enum(SHARD_HEALTH),
      detail: z.string().nullable().openapi({ example: "binding SHARD_D1_9 is not declared" }),
      probed_at: Timestamp.nullable(),
      latency_ms: z.number().int().nullable().openapi({ description: "The last probe's round trip" }),
    }),
  })
  .openapi("Shard");

export const ShardListSchema = z.object({ data: z.array(ShardSchema) }).openapi("ShardList");

export const MigrationResultSchema = z
  .object({
    shard_id: z.string(),
    applied: z.array(z.string()).openapi({ description: "Migrations applied by this run (none if up to date)" }),
    tenants_restored: z.number().int().openapi({ description: "Tenants taken out of MIGRATION_ERROR" }),
  })
  .openapi("ShardMigration");

export const MigrationRunSchema = z.object({ data: z.array(MigrationResultSchema) }).openapi("ShardMigrationRun");

export const UpdateShardBody = z
  .object({ status: z.enum(SHARD_STATUSES) })
  .strict()
  .openapi("UpdateShard");

export const shardView = (s: ShardWithCounts) => ({
  id: s.id,
  engine: s.engine,
  binding: s.binding,
  region: s.region,
  dedicated: s.dedicated,
  status: s.status,
  accepts_tenants: s.status === "active" && s.health !== "unhealthy",
  tenant_count: s.tenantCount,
  entry_count: s.entryCount,
  stored_bytes: s.storedBytes,
  health: { state: s.health, detail: s.healthDetail, probed_at: iso(s.probedAt), latency_ms: s.probeMs },
});
