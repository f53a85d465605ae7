/**
 * The upper bounds (ms) of the latency histograms' buckets, the same for requests and shard calls:
 * fixed, so per-minute rows of any tenant, tier or shard add up bucket by bucket. A count past the
 * last bound falls in the implicit +Inf bucket.
 */
export const BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000] as const;

/** Bucket counts, not cumulative: index i counts observations in (BUCKETS_MS[i-1], BUCKETS_MS[i]]; the last is +Inf. */
export type Buckets = number[];

export const emptyBuckets = (): Buckets => new Array(BUCKETS_MS.length + 1).fill(0);

export function bucketOf(ms: number): number {
  for (let i = 0; i < BUCKETS_MS.length; i++) if (ms <= (BUCKETS_MS[i] as number)) return i;
  return BUCKETS_MS.length;
}

/**
 * The q-quantile (0 < q ≤ 1) of the observations a histogram holds, as Prometheus's
 * histogram_quantile estimates it: found in its bucket by rank, interpolated linearly inside the
 * bucket (the first starting at 0); one in the +Inf bucket is reported as the highest finite bound.
 * Null for an empty histogram.
 */
export function quantile(buckets: Buckets, q: number): number | null {
  const total = buckets.reduce((sum, n) => sum + n, 0);
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < buckets.length; i++) {
    const count = buckets[i] as number;
    if (count > 0 && below + count >= rank) {
      if (i === BUCKETS_MS.length) return BUCKETS_MS[BUCKETS_MS.length - 1] as number;
      const lower = i === 0 ? 0 : (BUCKETS_MS[i - 1] as number);
      const upper = BUCKETS_MS[i] as number;
      return lower + (upper - lower) * ((rank - below) / count);
    }
    below += count;
  }
  return BUCKETS_MS[BUCKETS_MS.length - 1] as number;
}

export const addBuckets = (into: Buckets, from: readonly number[]) => {
  for (let i = 0; i < into.length; i++) into[i] = (into[i] as number) + (from[i] ?? 0);
};
