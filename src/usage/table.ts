import { index, integer, primaryKey, real, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { Meter } from "./record";

/**
 * The ids of usage records applied: a record delivered again (a replayed flush, a duplicated queue
 * message) finds its id here and changes nothing. Kept USAGE_DEDUP_DAYS, far past any redelivery.
 */
export const usageRecords = sqliteTable(
  "usage_records",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    meter: text("meter").$type<Meter>().notNull(),
    hour: integer("hour").notNull(),
    receivedAt: integer("received_at").notNull(),
  },
  (t) => [index("usage_records_tenant_idx").on(t.tenantId, t.receivedAt)],
);

/**
 * A tenant's usage per meter and hour (epoch ms of its start): a counter's quantity; for a gauge,
 * its time-weighted average as `quantity`, with its maximum, last level, the part of the hour it
 * covers and the time of the statement it comes from (a later statement replaces an earlier one).
 */
export const usageHourly = sqliteTable(
  "usage_hourly",
  {
    tenantId: text("tenant_id").notNull(),
    meter: text("meter").$type<Meter>().notNull(),
    hour: integer("hour").notNull(),
    quantity: real("quantity").notNull(),
    max: integer("max"),
    last: integer("last"),
    coveredMs: integer("covered_ms"),
    statedAt: integer("stated_at"),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.meter, t.hour] })],
);

/** A tenant's usage per meter and UTC day (epoch ms of its start), aggregated from its hours at 01:00 the next day. */
export const usageDaily = sqliteTable(
  "usage_daily",
  {
    tenantId: text("tenant_id").notNull(),
    meter: text("meter").$type<Meter>().notNull(),
    day: integer("day").notNull(),
    quantity: real("quantity").notNull(),
    max: integer("max"),
    last: integer("last"),
    /** A gauge's part of the day with a known level (its average is over that part). */
    coveredMs: integer("covered_ms"),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.meter, t.day] })],
);

export type UsageHour = typeof usageHourly.$inferSelect;
export type UsageDay = typeof usageDaily.$inferSelect;
