import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { epochMs, jsonText } from "../db/columns";
import type { PlanPricing } from "../invoices/pricing";

/** A plan is the set of limits a tier buys; null means unlimited. */
export const plans = sqliteTable("plans", {
  tier: text("tier").primaryKey(),
  name: text("name").notNull(),
  rateLimitPerMinute: integer("rate_limit_per_minute").notNull(),
  maxConcurrency: integer("max_concurrency").notNull(),
  monthlyRequests: integer("monthly_requests"),
  maxEntries: integer("max_entries"),
  maxStorageBytes: integer("max_storage_bytes"),
  dedicatedShard: integer("dedicated_shard", { mode: "boolean" }).notNull().default(false),
  /** Days a tenant's audit records are kept (the daily retention job drops older ones). */
  auditRetentionDays: integer("audit_retention_days").notNull().default(30),
  /** Completed backups a tenant keeps; a new one beyond this deletes the oldest. */
  backupsKept: integer("backups_kept").notNull().default(5),
  /** Realtime stream connections the tenant may hold open at once (src/stream). */
  streamConnections: integer("stream_connections").notNull().default(10),
  /** Currency, base price and per-meter prices (src/invoices/pricing.ts); checked when read. */
  pricing: jsonText<PlanPricing>("pricing").notNull().default({ currency: "usd", base_amount: 0, meters: {} }),
  createdAt: epochMs("created_at").notNull(),
});

export type Plan = typeof plans.$inferSelect;
