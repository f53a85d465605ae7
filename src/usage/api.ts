import { z } from "@hono/zod-openapi";
import { TimestampInput } from "../http/api";
import { METERS } from "./record";
import { type Granularity, periodAfter, periodStart } from "./service";

export const GRANULARITIES = ["hour", "day", "month"] as const;

/** Periods one answer holds at most: 31 days of hours, 366 days, 36 months. */
export const MAX_POINTS = { hour: 744, day: 366, month: 36 } as const;

export const UsageQuery = z
  .object({
    meter: z.enum(METERS).optional().openapi({ description: "One meter; every meter when absent" }),
    granularity: z.enum(GRANULARITIES).default("day"),
    from: TimestampInput.optional().openapi({
      description: "Start, rounded down to its period (UTC); default: the start of the current month",
    }),
    to: TimestampInput.optional().openapi({ description: "End, rounded up to its period (UTC); default: now" }),
  })
  .superRefine((query, ctx) => {
    const range = periodsOf(query, Date.now());
    if (range.to <= range.from) ctx.addIssue({ code: "custom", path: ["to"], message: "must be after from" });
    else if (range.count > MAX_POINTS[query.granularity]) {
      ctx.addIssue({
        code: "custom",
        path: ["from"],
        message: `at most ${MAX_POINTS[query.granularity]} periods of a ${query.granularity} at once`,
      });
    }
  });

/** The query's range as period starts: `from` rounded down, `to` rounded up, and how many periods. */
export function periodsOf(
  query: { granularity: Granularity; from?: string; to?: string },
  now: number,
): { from: number; to: number; count: number } {
  const { granularity } = query;
  const from = periodStart(granularity, query.from === undefined ? periodStart("month", now) : Date.parse(query.from));
  const end = query.to === undefined ? now : Date.parse(query.to);
  const last = periodStart(granularity, end);
  const to = last === end && query.to !== undefined ? end : periodAfter(granularity, last);
  let count = 0;
  for (let at = from; at < to && count <= MAX_POINTS[granularity]; at = periodAfter(granularity, at)) count++;
  return { from, to, count };
}

const Point = z.object({
  start: z.string(),
  end: z.string(),
  quantity: z.number().openapi({ description: "A counter's sum; a gauge's time-weighted average" }),
  max: z.number().int().nullable().openapi({ description: "A gauge's maximum; null for counters" }),
  last: z.number().int().nullable().openapi({ description: "A gauge's level at the end; null for counters" }),
});

export const UsageSchema = z
  .object({
    tenant_id: z.string(),
    granularity: z.enum(GRANULARITIES),
    from: z.string(),
    to: z.string(),
    meters: z.array(
      z.object({
        meter: z.enum(METERS),
        kind: z.enum(["counter", "gauge"]),
        unit: z.string(),
        total: Point.omit({ start: true, end: true }),
        points: z.array(Point),
      }),
    ),
  })
  .openapi("Usage");

export const UNITS: Record<(typeof METERS)[number], string> = {
  api_calls: "requests",
  egress_bytes: "bytes",
  entries_written: "entries",
  exports: "exports",
  stored_bytes: "bytes",
};
