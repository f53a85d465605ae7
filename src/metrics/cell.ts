import { addBuckets, type Buckets, bucketOf, emptyBuckets } from "./histogram";

/**
 * What the gate aggregates per tenant and minute (src/metrics/recorder.ts):
 * - `request`, labelled `<METHOD> <route template>`: requests by status class, their latency and
 *   response bytes;
 * - `shard`, labelled with the shard id: calls to the shard (a failed one counts in `s5xx`) and
 *   their latency;
 * - `gate`, labelled with a decision (GATE_DECISIONS): how many requests got it.
 */
export type Series = "request" | "shard" | "gate";

/**
 * The gate's decisions on a tenant key's requests: admitted; refused with 429 by a rate limit or
 * the monthly quota, or with 503 by the bulkhead (concurrency) or an open shard circuit (which
 * refuses a request the gate admitted); `refused` is any other refusal (an invalid key, a
 * suspended tenant, a move's fence).
 */
export const GATE_DECISIONS = [
  "admitted",
  "rate_limited",
  "quota_exhausted",
  "concurrency_limited",
  "circuit_open",
  "refused",
] as const;
export type GateDecision = (typeof GATE_DECISIONS)[number];

/** One series' figures for a minute (or, added up, for longer). */
export type Cell = {
  count: number;
  s2xx: number;
  s3xx: number;
  s4xx: number;
  s5xx: number;
  sumMs: number;
  bytes: number;
  buckets: Buckets;
};

/** The numeric columns of a cell, as the tables store them (buckets as b0…b11). */
export const COUNTERS = ["count", "s2xx", "s3xx", "s4xx", "s5xx", "sumMs", "bytes"] as const;

export const emptyCell = (): Cell => ({
  count: 0,
  s2xx: 0,
  s3xx: 0,
  s4xx: 0,
  s5xx: 0,
  sumMs: 0,
  bytes: 0,
  buckets: emptyBuckets(),
});

/** One observation: a status (its class is counted), a latency, bytes; each optional. */
export type Observation = { status?: number; ms?: number; bytes?: number };

export function observe(cell: Cell, { status, ms, bytes }: Observation) {
  cell.count++;
  if (status !== undefined) {
    if (status >= 500) cell.s5xx++;
    else if (status >= 400) cell.s4xx++;
    else if (status >= 300) cell.s3xx++;
    else cell.s2xx++;
  }
  if (ms !== undefined) {
    cell.sumMs += ms;
    const bucket = bucketOf(ms);
    cell.buckets[bucket] = (cell.buckets[bucket] as number) + 1;
  }
  if (bytes !== undefined) cell.bytes += bytes;
}

export function addCell(into: Cell, from: Cell) {
  for (const name of COUNTERS) into[name] += from[name];
  addBuckets(into.buckets, from.buckets);
}

/** A series' cell for one minute of one tenant at one tier: what the gate flushes (minute = epoch ms of its start). */
export type MinuteRow = { minute: number; tier: string; series: Series; label: string; cell: Cell };

export const MINUTE_MS = 60_000;
export const minuteOf = (at: number) => at - (at % MINUTE_MS);
