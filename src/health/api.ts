import { z } from "@hono/zod-openapi";

const Check = z.object({
  status: z.enum(["UP", "DOWN"]),
  ms: z.number(),
  error: z.string().optional(),
});

export const LivenessSchema = z.object({ status: z.literal("UP") }).openapi("Liveness");

export const ReadinessSchema = z
  .object({ status: z.enum(["UP", "DOWN"]), checks: z.object({ control_db: Check, queue: Check }) })
  .openapi("Readiness");

export const TenantHealthSchema = z
  .object({
    status: z.enum(["UP", "DEGRADED"]).openapi({ description: "DEGRADED answers 200 too; `reasons` says why" }),
    reasons: z.array(z.string()),
    tenants: z.object({
      active: z.number().int(),
      by_status: z.record(z.string(), z.number().int()),
      by_tier: z.record(z.string(), z.number().int()).openapi({ description: "ACTIVE and SUSPENDED tenants" }),
    }),
    provision_errors: z.object({ count: z.number().int(), tenant_ids: z.array(z.string()) }),
    migration_errors: z.object({ count: z.number().int(), tenant_ids: z.array(z.string()) }),
    provisioning: z.object({
      tenants: z.number().int(),
      average_ms: z.number().nullable().openapi({ description: "From creation to first ACTIVE" }),
    }),
    routing_cache: z
      .object({ hits: z.number().int(), misses: z.number().int(), hit_rate: z.number().nullable() })
      .openapi({ description: "This isolate's route lookups since it started" }),
    circuits: z.object({
      open: z.number().int(),
      tenants: z.array(z.object({ tenant_id: z.string(), dependency: z.string(), since: z.number().int() })),
    }),
    unhealthy_shards: z.array(z.string()),
    shard_sample: z.array(Check.extend({ tenant_id: z.string(), shard_id: z.string(), engine: z.string().nullable() })),
  })
  .openapi("TenantHealth");
