import { z } from "zod";

/**
 * The meters, per tenant per hour:
 * - `api_calls`: requests the gate admitted (what the monthly quota counts);
 * - `egress_bytes`: response body bytes of those requests;
 * - `entries_written`: entries created, replaced or deleted;
 * - `exports`: exports completed;
 * - `stored_bytes`: a gauge, the entry data the tenant's shard holds: its maximum and
 *   time-weighted average over the hour.
 * CPU time is not among them: a Worker cannot read its own CPU time (only the platform's
 * analytics can), so there is nothing exact to meter.
 */
export const COUNTERS = ["api_calls", "egress_bytes", "entries_written", "exports"] as const;
export const GAUGES = ["stored_bytes"] as const;
export const METERS = [...COUNTERS, ...GAUGES] as const;
export type CounterMeter = (typeof COUNTERS)[number];
export type GaugeMeter = (typeof GAUGES)[number];
export type Meter = (typeof METERS)[number];
export const isCounter = (meter: Meter): meter is CounterMeter => (COUNTERS as readonly string[]).includes(meter);

export const HOUR_MS = 3_600_000;
export const hourOf = (at: number) => at - (at % HOUR_MS);

export const USAGE_TYPE_PREFIX = "dev.edge-tenancy.usage.";
export const COUNTED = `${USAGE_TYPE_PREFIX}counted` as const;
export const GAUGED = `${USAGE_TYPE_PREFIX}gauged` as const;

const envelope = {
  specversion: z.literal("1.0"),
  /** Given when the record is made: a record delivered twice is counted once. */
  id: z.string().min(1).max(100),
  source: z.string().min(1).max(200),
  /** The tenant. */
  subject: z.string().min(1).max(100),
  time: z.string().datetime(),
  datacontenttype: z.literal("application/json"),
};
const hour = z
  .string()
  .datetime()
  .refine((value) => Date.parse(value) % HOUR_MS === 0, "must be the start of an hour");

/**
 * A usage record as it leaves a gate (or a job) for the usage queue, shaped as a CloudEvent (1.0,
 * structured JSON): `counted` adds a quantity to a counter's hour; `gauged` states a gauge's hour
 * so far (its maximum, time-weighted average over `covered_ms` of the hour with a known level, and
 * last level), and a later statement of the same hour replaces an earlier one.
 */
export const UsageRecord = z.discriminatedUnion("type", [
  z.object({
    ...envelope,
    type: z.literal(COUNTED),
    data: z.object({ meter: z.enum(COUNTERS), hour, quantity: z.number().int().nonnegative() }),
  }),
  z.object({
    ...envelope,
    type: z.literal(GAUGED),
    data: z.object({
      meter: z.enum(GAUGES),
      hour,
      max: z.number().int().nonnegative(),
      avg: z.number().nonnegative(),
      last: z.number().int().nonnegative(),
      covered_ms: z.number().int().min(0).max(HOUR_MS),
    }),
  }),
]);
export type UsageRecord = z.infer<typeof UsageRecord>;

const base = (id: string, tenantId: string, source: string, at: number) => ({
  specversion: "1.0" as const,
  id,
  source,
  subject: tenantId,
  time: new Date(at).toISOString(),
  datacontenttype: "application/json" as const,
});

export const counted = (
  id: string,
  tenantId: string,
  source: string,
  at: number,
  meter: CounterMeter,
  hourStart: number,
  quantity: number,
): UsageRecord => ({
  ...base(id, tenantId, source, at),
  type: COUNTED,
  data: { meter, hour: new Date(hourStart).toISOString(), quantity },
});

export type GaugeHour = { hour: number; max: number; avg: number; last: number; coveredMs: number };

export const gauged = (
  id: string,
  tenantId: string,
  source: string,
  at: number,
  meter: GaugeMeter,
  figures: GaugeHour,
): UsageRecord => ({
  ...base(id, tenantId, source, at),
  type: GAUGED,
  data: {
    meter,
    hour: new Date(figures.hour).toISOString(),
    max: figures.max,
    avg: figures.avg,
    last: figures.last,
    covered_ms: figures.coveredMs,
  },
});

/** One export made, as its job records it: the record's id is the export's, so it counts once. */
export const exportMade = (tenantId: string, exportId: string, at: number): UsageRecord =>
  counted(`use_${exportId}`, tenantId, `/tenants/${tenantId}/exports/${exportId}`, at, "exports", hourOf(at), 1);
