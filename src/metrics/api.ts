import { z } from "@hono/zod-openapi";
import { iso, PageQuery, TenantId, Timestamp } from "../http/api";
import { GATE_DECISIONS } from "./cell";
import { WINDOWS } from "./service";
import type { SlowQuery } from "./table";

export const MetricsQuery = z.object({
  window: z
    .enum(Object.keys(WINDOWS) as [keyof typeof WINDOWS, ...(keyof typeof WINDOWS)[]])
    .default("1h")
    .openapi({ description: "The stretch ending with the current minute", example: "1h" }),
});

const Latency = z
  .object({
    p50: z.number().nullable(),
    p95: z.number().nullable(),
    p99: z.number().nullable(),
    mean: z.number().nullable(),
  })
  .openapi("LatencyMs", {
    description:
      "Milliseconds; quantiles estimated from the histogram's fixed buckets (buckets_ms), null with no requests",
  });

export const TenantMetricsSchema = z
  .object({
    tenant_id: z.string(),
    window: z.enum(Object.keys(WINDOWS) as [string, ...string[]]),
    from: z.string(),
    to: z.string(),
    requests: z.number().int(),
    rate_per_second: z.number(),
    error_rate: z.number().openapi({ description: "Share of requests answered 5xx" }),
    client_error_rate: z.number().openapi({ description: "Share of requests answered 4xx" }),
    status_classes: z.record(z.string(), z.number().int()),
    latency_ms: Latency,
    response_bytes: z.number().int(),
    gate: z.object(Object.fromEntries(GATE_DECISIONS.map((decision) => [decision, z.number().int()]))),
    routes: z.array(
      z.object({
        method: z.string(),
        route: z.string(),
        requests: z.number().int(),
        errors: z.number().int(),
        client_errors: z.number().int(),
        latency_ms: Latency,
      }),
    ),
    shards: z.array(
      z.object({ shard_id: z.string(), calls: z.number().int(), errors: z.number().int(), latency_ms: Latency }),
    ),
    buckets_ms: z.array(z.number()),
  })
  .openapi("TenantMetrics");

export const SlowQueryQuery = PageQuery.extend({
  tenant_id: TenantId.optional().openapi({ description: "Only this tenant's calls" }),
});

export const SlowQuerySchema = z
  .object({
    id: z.string(),
    shard_id: z.string(),
    tenant_id: z.string(),
    at: Timestamp,
    name: z.string().openapi({ description: "The store method called (e.g. entries.list); never its arguments" }),
    ms: z.number(),
    failed: z.boolean(),
    route: z.string().nullable().openapi({ description: "The request's route template" }),
  })
  .openapi("SlowQuery");

export const slowQueryView = (row: SlowQuery): z.infer<typeof SlowQuerySchema> => ({
  id: row.id,
  shard_id: row.shardId,
  tenant_id: row.tenantId,
  at: iso(row.at) as string,
  name: row.name,
  ms: row.ms,
  failed: row.failed === 1,
  route: row.route,
});
