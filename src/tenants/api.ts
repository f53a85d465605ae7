import { z } from "@hono/zod-openapi";
import { iso, TenantId, Timestamp, TimestampInput } from "../http/api";
import { ShardId } from "../shards/api";
import { TENANT_STATUSES, type Tenant } from "./table";

export const Tier = z
  .string()
  .regex(/^[A-Z][A-Z0-9_]{1,31}$/, "must be an upper-case tier name")
  .openapi({ example: "STANDARD", description: "A plan tier: FREE, STANDARD, ENTERPRISE or one added to `plans`" });

export const Region = z
  .string()
  .regex(/^[a-z][a-z0-9-]{1,31}$/, "a lower-case region name")
  .openapi({ example: "eu", description: "A data region, as the shard registry names it (e.g. eu, us)" });

export const LimitOverridesSchema = z
  .object({
    requests_per_minute: z.number().int().min(1).max(100_000_000).optional(),
    max_concurrency: z.number().int().min(1).max(10_000).optional(),
    monthly_requests: z.number().int().min(1).nullable().optional().openapi({ description: "null = unlimited" }),
  })
  .strict()
  .openapi("LimitOverrides", {
    description: "Replaces the tenant's overrides of its plan's limits; an absent field means the plan's value",
  });

export const TenantSchema = z
  .object({
    id: TenantId,
    slug: z.string(),
    name: z.string(),
    tier: z.string(),
    status: z.enum(TENANT_STATUSES),
    status_reason: z.string().nullable(),
    shard_id: z.string().nullable(),
    data_region: z
      .string()
      .nullable()
      .openapi({ description: "The tenant's data lives only on shards of this region; null = anywhere" }),
    limit_overrides: LimitOverridesSchema,
    trial_ends_at: Timestamp.nullable(),
    created_at: Timestamp,
    updated_at: Timestamp,
    deleted_at: Timestamp.nullable().openapi({ description: "When it was soft-deleted (status DELETED)" }),
    last_active_at: Timestamp.nullable().openapi({
      description: "The last request of one of its keys the gate admitted (to a minute); archival reads it",
    }),
    archived_at: Timestamp.nullable().openapi({ description: "When it was archived (status ARCHIVED)" }),
    purge_after: Timestamp.nullable().openapi({
      description: "When a DELETED tenant's data is purged for good; until then POST …/restore brings it back",
    }),
  })
  .openapi("Tenant");

export const DeleteTenantQuery = z.object({
  hard: z
    .enum(["true", "false"])
    .optional()
    .openapi({ description: "true: purge now, with no grace period (platform admin)" }),
});

export const CreateTenantBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    slug: z
      .string()
      .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, "lower-case letters, digits and inner hyphens, at most 63")
      .openapi({ example: "acme" }),
    tier: Tier,
    trial_ends_at: TimestampInput.optional(),
    data_region: Region.optional().openapi({
      description: "Data residency: place the tenant only on shards of this region. Fixed once placed.",
    }),
    shard_id: ShardId.optional().openapi({
      description: "Place on this shard instead of round-robin; it must be active and fit the plan and region",
    }),
  })
  .strict()
  .openapi("CreateTenant");

export const UpdateTenantBody = z
  .object({
    name: z.string().trim().min(1).max(200).optional(),
    tier: Tier.optional(),
    status: z.enum(["ACTIVE", "SUSPENDED"]).optional().openapi({ description: "Suspend or resume" }),
    limits: LimitOverridesSchema.optional(),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, "send at least one of name, tier, status, limits")
  .openapi("UpdateTenant");

export const TenantListQuery = z.object({
  status: z.enum(TENANT_STATUSES).optional(),
  tier: Tier.optional(),
});

export const tenantView = (t: Tenant) => ({
  id: t.id,
  slug: t.slug,
  name: t.name,
  tier: t.tier,
  status: t.status,
  status_reason: t.statusReason,
  shard_id: t.shardId,
  data_region: t.dataRegion,
  limit_overrides: t.limitOverrides,
  trial_ends_at: iso(t.trialEndsAt),
  created_at: iso(t.createdAt) as string,
  updated_at: iso(t.updatedAt) as string,
  deleted_at: iso(t.deletedAt),
  last_active_at: iso(t.lastActiveAt),
  archived_at: iso(t.archivedAt),
  purge_after: iso(t.purgeAfter),
});
