import { isNull } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { quotaPeriod } from "../gate/quota-period";
import type { FanOut } from "../jobs/fan-out";
import { tenantIdsAfter } from "../tenants/service";
import { tenants } from "../tenants/table";
import { aggregateUsageMessage } from "./messages";
import { HOUR_MS, hourOf, METERS, type Meter } from "./record";
import {
  aggregateDay,
  combine,
  DAY_MS,
  dayOf,
  daysOf,
  type Figures,
  figuresOf,
  figuresOver,
  hoursOf,
  levelBefore,
  pruneUsage,
} from "./store";
import type { UsageHour } from "./table";

/** Record ids are remembered this long (any redelivery comes far sooner); hours are kept this long, days for ever. */
export const USAGE_DEDUP_MS = 14 * DAY_MS;
export const USAGE_HOURS_KEPT_MS = 62 * DAY_MS;

const isoDay = (at: number) => new Date(at).toISOString().slice(0, 10);

/** The 01:00 aggregation of one tenant's previous day; its old record ids and hours go too. */
export async function dailyAggregation(db: ControlDb, tenantId: string, day: number) {
  await aggregateDay(db, tenantId, day, METERS);
  await pruneUsage(db, tenantId, day - USAGE_DEDUP_MS, day - USAGE_HOURS_KEPT_MS);
}

/** Every tenant's previous day, a page of tenants per message (src/jobs/fan-out.ts). */
export const dueUsageAggregation: FanOut<typeof aggregateUsageMessage.body> = {
  name: "daily-usage",
  kind: aggregateUsageMessage,
  body: (tenantId, at) => ({ tenantId, day: isoDay(dayOf(at) - DAY_MS) }),
  due: (db, after, limit) => tenantIdsAfter(db, isNull(tenants.purgeStartedAt), after, limit),
};

export type Granularity = "hour" | "day" | "month";

export type UsagePoint = { start: number; end: number } & Figures;

// Months are the billing periods, the monthly quota's.
const monthStart = (at: number) => quotaPeriod(at).start;
const nextMonth = (at: number) => quotaPeriod(at).end;

/** Where a period of the granularity starts at or before `at`, and the next one starts. */
export const periodStart = (granularity: Granularity, at: number) =>
  granularity === "hour" ? hourOf(at) : granularity === "day" ? dayOf(at) : monthStart(at);
export const periodAfter = (granularity: Granularity, start: number) =>
  granularity === "hour" ? start + HOUR_MS : granularity === "day" ? start + DAY_MS : nextMonth(start);

/**
 * A meter's figures per day in [from, to) (UTC day starts): a day aggregated at 01:00 from its
 * row, a day not yet aggregated (today, yesterday before 01:00) from its hours. Hours after `now`
 * have not happened: a gauge's level is not carried into them.
 */
async function dayFigures(db: ControlDb, tenantId: string, meter: Meter, from: number, to: number, now: number) {
  const [days, hours, before] = await Promise.all([
    daysOf(db, tenantId, meter, from, to),
    hoursOf(db, tenantId, meter, from, to),
    levelBefore(db, tenantId, meter, from),
  ]);
  const dayRows = new Map(days.map((day) => [day.day, day]));
  const hoursByDay = new Map<number, UsageHour[]>();
  for (const hour of hours) hoursByDay.set(dayOf(hour.hour), [...(hoursByDay.get(dayOf(hour.hour)) ?? []), hour]);
  const points: UsagePoint[] = [];
  let level = before;
  for (let day = from; day < to; day += DAY_MS) {
    const row = dayRows.get(day);
    const figures: Figures = row
      ? figuresOf(row)
      : figuresOver(meter, hoursByDay.get(day) ?? [], level, day, Math.min(day + DAY_MS, hourOf(now) + HOUR_MS));
    if (figures.last !== null) level = figures.last;
    points.push({ start: day, end: day + DAY_MS, ...figures });
  }
  return points;
}

/** A meter's figures per hour in [from, to). */
async function hourFigures(db: ControlDb, tenantId: string, meter: Meter, from: number, to: number, now: number) {
  const [hours, before] = await Promise.all([
    hoursOf(db, tenantId, meter, from, to),
    levelBefore(db, tenantId, meter, from),
  ]);
  const byHour = new Map(hours.map((hour) => [hour.hour, hour]));
  const points: UsagePoint[] = [];
  let level = before;
  for (let hour = from; hour < to; hour += HOUR_MS) {
    const stated = byHour.get(hour);
    const figures = figuresOver(meter, stated ? [stated] : [], hour <= now ? level : null, hour, hour + HOUR_MS);
    if (figures.last !== null) level = figures.last;
    points.push({ start: hour, end: hour + HOUR_MS, ...figures });
  }
  return points;
}

/** A meter's usage per period of the granularity over [from, to) (period starts), and over all of it. */
export async function usageSeries(
  db: ControlDb,
  tenantId: string,
  meter: Meter,
  granularity: Granularity,
  from: number,
  to: number,
  now = Date.now(),
): Promise<{ points: UsagePoint[]; total: Figures }> {
  let points: UsagePoint[];
  if (granularity === "hour") points = await hourFigures(db, tenantId, meter, from, to, now);
  else {
    const days = await dayFigures(db, tenantId, meter, from, to, now);
    if (granularity === "day") points = days;
    else {
      points = [];
      for (let month = from; month < to; month = nextMonth(month)) {
        const end = nextMonth(month);
        const parts = days.filter((day) => day.start >= month && day.start < end);
        points.push({ start: month, end, ...combine(meter, parts) });
      }
    }
  }
  return { points, total: combine(meter, points) };
}
