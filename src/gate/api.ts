import { z } from "@hono/zod-openapi";

const CircuitViewSchema = z.object({
  state: z.enum(["closed", "open", "half_open"]),
  calls: z.number().int().openapi({ description: "Outcomes in the sliding window (at most 100)" }),
  failures: z.number().int(),
  failure_rate: z.number(),
  opened_at: z.string().nullable(),
  retry_after_seconds: z.number().int().nullable(),
});

export const LimitsSchema = z
  .object({
    tenant_id: z.string(),
    tier: z.string().nullable(),
    stale: z.boolean().openapi({
      description: "true while the control database is unreachable and the gate serves its stored copy",
    }),
    rate_limits: z.array(
      z.object({
        policy: z.string().openapi({ example: "tenant", description: "`tenant`, or `key:<id>` for a key's own limit" }),
        limit: z.number().int(),
        window_seconds: z.number().int(),
        used: z.number().int(),
        remaining: z.number().int(),
        reset_seconds: z.number().int(),
      }),
    ),
    monthly_requests: z.object({
      period: z.string().openapi({ example: "2026-11" }),
      limit: z.number().int().nullable(),
      used: z.number().int(),
      resets_at: z.string(),
    }),
    concurrency: z.object({ limit: z.number().int(), in_flight: z.number().int() }),
    circuits: z.record(z.string(), CircuitViewSchema),
    storage: z
      .object({
        entries: z.number().int(),
        max_entries: z.number().int().nullable(),
        stored_bytes: z.number().int(),
        max_stored_bytes: z.number().int().nullable(),
      })
      .nullable()
      .openapi({ description: "From the tenant's shard; null when the tenant has no reachable shard" }),
  })
  .openapi("Limits");

export const RESET_SCOPES = ["rate", "quota", "concurrency", "circuits"] as const;

export const ResetLimitsBody = z
  .object({
    scopes: z
      .array(z.enum(RESET_SCOPES))
      .min(1)
      .default([...RESET_SCOPES])
      .openapi({
        description:
          "What to reset. `rate` and `quota` need a platform-admin key; a tenant admin may reset `concurrency` and `circuits`.",
      }),
  })
  .strict()
  .openapi("ResetLimits");
