import { and, asc, desc, eq, gte, lt } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { chunksOf } from "../db/sql";
import { COUNTED, HOUR_MS, isCounter, type Meter, type UsageRecord } from "./record";
import { type UsageHour, usageDaily, usageHourly, usageRecords } from "./table";

export const DAY_MS = 86_400_000;
export const dayOf = (at: number) => at - (at % DAY_MS);

const REMEMBER = `INSERT INTO usage_records (id, tenant_id, meter, hour, received_at) VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (id) DO NOTHING`;
// changes() is the row count of the statement before, in the same transaction: 0 when the record's
// id was already there, so a record applies once however often it comes.
const ADD = `INSERT INTO usage_hourly (tenant_id, meter, hour, quantity) SELECT ?, ?, ?, ? WHERE changes() = 1
  ON CONFLICT (tenant_id, meter, hour) DO UPDATE SET quantity = quantity + excluded.quantity`;
const STATE = `INSERT INTO usage_hourly (tenant_id, meter, hour, quantity, max, last, covered_ms, stated_at)
  SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE changes() = 1
  ON CONFLICT (tenant_id, meter, hour) DO UPDATE SET quantity = excluded.quantity, max = excluded.max,
  last = excluded.last, covered_ms = excluded.covered_ms, stated_at = excluded.stated_at
  WHERE excluded.stated_at >= usage_hourly.stated_at`;

/** Records per batch: two statements each, one transaction. */
const RECORDS_PER_BATCH = 50;

/**
 * Applies usage records to the tenants' hours, each exactly once: its id is remembered in the same
 * transaction that adds it, and a record whose id is known adds nothing. A gauge's statement
 * replaces an older one of its hour and is ignored after a newer one.
 */
export async function applyUsage(db: ControlDb, records: UsageRecord[], now = Date.now()) {
  const d1 = db.$client;
  for (const chunk of chunksOf(records, RECORDS_PER_BATCH)) {
    await d1.batch(
      chunk.flatMap((record) => {
        const { id, subject: tenantId, data } = record;
        const hour = Date.parse(data.hour);
        const remember = d1.prepare(REMEMBER).bind(id, tenantId, data.meter, hour, now);
        if (record.type === COUNTED) {
          return [remember, d1.prepare(ADD).bind(tenantId, record.data.meter, hour, record.data.quantity)];
        }
        const { meter, avg, max, last, covered_ms } = record.data;
        const statedAt = Date.parse(record.time);
        return [remember, d1.prepare(STATE).bind(tenantId, meter, hour, avg, max, last, covered_ms, statedAt)];
      }),
    );
  }
}

/** A tenant's hours of a meter in [from, to), oldest first. */
export const hoursOf = (db: ControlDb, tenantId: string, meter: Meter, from: number, to: number) =>
  db
    .select()
    .from(usageHourly)
    .where(
      and(
        eq(usageHourly.tenantId, tenantId),
        eq(usageHourly.meter, meter),
        gte(usageHourly.hour, from),
        lt(usageHourly.hour, to),
      ),
    )
    .orderBy(asc(usageHourly.hour));

/** A gauge's last level before `before` (it carries on from there); null for a counter, which carries nothing. */
export async function levelBefore(db: ControlDb, tenantId: string, meter: Meter, before: number) {
  if (isCounter(meter)) return null;
  const [row] = await db
    .select({ last: usageHourly.last })
    .from(usageHourly)
    .where(and(eq(usageHourly.tenantId, tenantId), eq(usageHourly.meter, meter), lt(usageHourly.hour, before)))
    .orderBy(desc(usageHourly.hour))
    .limit(1);
  return row?.last ?? null;
}

/** A tenant's aggregated days of a meter in [from, to), oldest first. */
export const daysOf = (db: ControlDb, tenantId: string, meter: Meter, from: number, to: number) =>
  db
    .select()
    .from(usageDaily)
    .where(
      and(
        eq(usageDaily.tenantId, tenantId),
        eq(usageDaily.meter, meter),
        gte(usageDaily.day, from),
        lt(usageDaily.day, to),
      ),
    )
    .orderBy(asc(usageDaily.day));

/** Figures of a stretch of time: a counter's sum, or a gauge's time-weighted average, maximum and last level. */
export type Figures = { quantity: number; max: number | null; last: number | null; coveredMs: number | null };

/**
 * A meter's figures over the hours [from, to) (`to` at most the current hour's end): a counter's
 * sum; a gauge's average weighted by the time each hour's level was known, where an hour with no
 * statement kept the last level before it for the whole hour.
 */
export function figuresOver(
  meter: Meter,
  hours: UsageHour[],
  levelBefore: number | null,
  from: number,
  to: number,
): Figures {
  if (isCounter(meter)) return combine(meter, hours.map(figuresOf));
  const byHour = new Map(hours.map((hour) => [hour.hour, hour]));
  const parts: Figures[] = [];
  let level = levelBefore;
  for (let hour = from; hour < to; hour += HOUR_MS) {
    const stated = byHour.get(hour);
    if (stated) level = stated.last;
    parts.push(
      stated
        ? figuresOf(stated)
        : { quantity: level ?? 0, max: level, last: level, coveredMs: level === null ? 0 : HOUR_MS },
    );
  }
  return combine(meter, parts);
}

/** A stored hour's or day's figures. */
export const figuresOf = (row: Pick<UsageHour, "quantity" | "max" | "last" | "coveredMs">): Figures => ({
  quantity: row.quantity,
  max: row.max,
  last: row.last,
  coveredMs: row.coveredMs,
});

/** Figures of consecutive stretches as one: a counter's sum; a gauge's average weighted by time known. */
export function combine(meter: Meter, parts: Figures[]): Figures {
  if (isCounter(meter)) {
    return { quantity: parts.reduce((sum, part) => sum + part.quantity, 0), max: null, last: null, coveredMs: null };
  }
  let weighted = 0;
  let covered = 0;
  let max: number | null = null;
  let last: number | null = null;
  for (const part of parts) {
    weighted += part.quantity * (part.coveredMs ?? 0);
    covered += part.coveredMs ?? 0;
    if (part.max !== null) max = Math.max(max ?? 0, part.max);
    if (part.last !== null) last = part.last;
  }
  return { quantity: covered === 0 ? 0 : weighted / covered, max, last, coveredMs: covered };
}

/**
 * The daily aggregation of one tenant's day (epoch ms of its UTC start): each meter's figures over
 * its 24 hours, set (not added) on the day's row, so running it again gives the same rows.
 */
export async function aggregateDay(db: ControlDb, tenantId: string, day: number, meters: readonly Meter[]) {
  const rows = [];
  for (const meter of meters) {
    const [hours, before] = await Promise.all([
      hoursOf(db, tenantId, meter, day, day + DAY_MS),
      levelBefore(db, tenantId, meter, day),
    ]);
    if (hours.length === 0 && before === null) continue;
    rows.push({ tenantId, meter, day, ...figuresOver(meter, hours, before, day, day + DAY_MS) });
  }
  for (const row of rows) {
    await db
      .insert(usageDaily)
      .values(row)
      .onConflictDoUpdate({
        target: [usageDaily.tenantId, usageDaily.meter, usageDaily.day],
        set: { quantity: row.quantity, max: row.max, last: row.last, coveredMs: row.coveredMs },
      });
  }
  return rows.length;
}

/** Drops a tenant's remembered record ids received before `before`, and its hours before `hoursBefore`. */
export async function pruneUsage(db: ControlDb, tenantId: string, before: number, hoursBefore: number) {
  await db.batch([
    db.delete(usageRecords).where(and(eq(usageRecords.tenantId, tenantId), lt(usageRecords.receivedAt, before))),
    db.delete(usageHourly).where(and(eq(usageHourly.tenantId, tenantId), lt(usageHourly.hour, hoursBefore))),
  ]);
}
