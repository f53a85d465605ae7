import { index, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { epochMs, jsonText } from "../db/columns";
import { plans } from "../plans/table";

export const TENANT_STATUSES = [
  "PROVISIONING",
  "ACTIVE",
  "SUSPENDED",
  "PROVISION_ERROR",
  "MIGRATION_ERROR",
  "DELETED",
  /** Hibernated: its shard data is in an archive in R2 (src/lifecycle/archival.ts) until rehydrated. */
  "ARCHIVED",
  /** A clone whose data is still being written (src/restores): no route serves it yet. */
  "RESTORING",
] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];

/** Per-tenant overrides of the plan's limits; an absent field means "the plan's value". */
export type LimitOverrides = {
  requests_per_minute?: number;
  max_concurrency?: number;
  monthly_requests?: number | null;
};

export const tenants = sqliteTable(
  "tenants",
  {
    id: text("id").primaryKey(),
    slug: text("slug").notNull().unique(),
    name: text("name").notNull(),
    tier: text("tier")
      .notNull()
      .references(() => plans.tier),
    status: text("status").$type<TenantStatus>().notNull(),
    statusReason: text("status_reason"),
    shardId: text("shard_id"),
    /** Where the tenant's data must live (data residency); null places it anywhere. */
    dataRegion: text("data_region"),
    trialEndsAt: epochMs("trial_ends_at"),
    limitOverrides: jsonText<LimitOverrides>("limit_overrides").notNull().default({}),
    createdAt: epochMs("created_at").notNull(),
    updatedAt: epochMs("updated_at").notNull(),
    /** A soft-deleted tenant (DELETED): when, the status a restore gives back, and when it is purged. */
    deletedAt: epochMs("deleted_at"),
    statusBeforeDelete: text("status_before_delete").$type<TenantStatus>(),
    purgeAfter: epochMs("purge_after"),
    /** Once the purge has begun, some data is gone: the tenant can no longer be restored. */
    purgeStartedAt: epochMs("purge_started_at"),
    /** The gate's last admission of one of its keys' requests (to LAST_USED_RESOLUTION_MS): its activity. */
    lastActiveAt: epochMs("last_active_at"),
    /** When provisioning first made it ACTIVE. */
    provisionedAt: epochMs("provisioned_at"),
    /** When it was hibernated (status ARCHIVED). */
    archivedAt: epochMs("archived_at"),
  },
  (t) => [
    index("tenants_status_idx").on(t.status, t.id),
    index("tenants_tier_idx").on(t.tier, t.id),
    index("tenants_shard_idx").on(t.shardId),
    index("tenants_purge_idx").on(t.purgeAfter, t.id),
    index("tenants_trial_idx").on(t.trialEndsAt, t.id),
  ],
);

export type Tenant = typeof tenants.$inferSelect;
