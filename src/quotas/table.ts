import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const QUOTAS = ["monthly_requests", "entries", "stored_bytes"] as const;
export type Quota = (typeof QUOTAS)[number];

/**
 * The first time in a billing period (a calendar month, UTC) each of a tenant's quotas refused it:
 * one row per tenant, quota and period (the id is the three), written in one batch with its
 * `quota.exceeded` event, so the event is emitted once however often the quota refuses.
 */
export const quotaTrips = sqliteTable(
  "quota_trips",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    quota: text("quota").$type<Quota>().notNull(),
    period: text("period").notNull(),
    limit: integer("limit").notNull(),
    trippedAt: integer("tripped_at").notNull(),
  },
  (t) => [index("quota_trips_tenant_idx").on(t.tenantId, t.period)],
);

export type QuotaTrip = typeof quotaTrips.$inferSelect;
