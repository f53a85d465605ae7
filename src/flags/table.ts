import { integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { epochMs, jsonText } from "../db/columns";
import { tenants } from "../tenants/table";
import type { FlagConfig, FlagType } from "./model";

/** Why and when a guard rolled a tenant's rollout back. */
export type RollBack = {
  at: number;
  metric: "error_rate_percent" | "p99_ms";
  observed: number;
  threshold: number;
  requests: number;
  window_minutes: number;
};

/** Platform-wide flag definitions (platform admins); tenants see them through their overrides. */
export const flags = sqliteTable("flags", {
  key: text("key").primaryKey(),
  type: text("type").$type<FlagType>().notNull(),
  description: text("description"),
  /** What the flag serves: default, on value, variants, rollout, rules, enabled (./model.ts). */
  config: jsonText<FlagConfig>("config").notNull(),
  /** A degrade switch: a platform flag that sheds optional work (src/flags/degradation.ts). */
  degrade: integer("degrade", { mode: "boolean" }).notNull().default(false),
  version: integer("version").notNull().default(1),
  createdAt: epochMs("created_at").notNull(),
  updatedAt: epochMs("updated_at").notNull(),
});

export type Flag = typeof flags.$inferSelect;

/** A tenant's changes to a platform flag: any of the definition's fields, replacing it for that tenant. */
export const flagOverrides = sqliteTable(
  "flag_overrides",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    flagKey: text("flag_key").notNull(),
    config: jsonText<Partial<FlagConfig>>("config").notNull(),
    /** Set when the flag's guard rolled the tenant back (src/flags/guard.ts); a person's override clears it. */
    rolledBack: jsonText<RollBack>("rolled_back"),
    version: integer("version").notNull().default(1),
    createdAt: epochMs("created_at").notNull(),
    updatedAt: epochMs("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.flagKey] })],
);

export type FlagOverride = typeof flagOverrides.$inferSelect;

/**
 * One row: a counter every change of a platform flag raises in its own batch, so an isolate's
 * cached definitions are checked with one read of it (src/flags/cache.ts).
 */
export const flagRevision = sqliteTable("flag_revision", {
  id: integer("id").primaryKey(),
  revision: integer("revision").notNull(),
});
