import { describe, expect, it } from "vitest";
import { BUCKETS_MS, bucketOf, emptyBuckets, quantile } from "../../src/metrics/histogram";

const histogramOf = (values: number[]) => {
  const buckets = emptyBuckets();
  for (const value of values) buckets[bucketOf(value)] = (buckets[bucketOf(value)] as number) + 1;
  return buckets;
};

describe("latency buckets", () => {
  it("puts a value in the first bucket whose bound it does not exceed, bounds inclusive", () => {
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(5)).toBe(0);
    expect(bucketOf(5.01)).toBe(1);
    expect(bucketOf(100)).toBe(4);
    expect(bucketOf(10_000)).toBe(BUCKETS_MS.length - 1);
    expect(bucketOf(10_000.5)).toBe(BUCKETS_MS.length);
  });
});

describe("quantiles from a histogram (as Prometheus's histogram_quantile estimates them)", () => {
  it("is null with nothing observed", () => {
    expect(quantile(emptyBuckets(), 0.5)).toBeNull();
  });

  it("interpolates linearly inside the bucket the rank falls in", () => {
    // 100 observations: 50 in (0, 5], 40 in (10, 25], 10 in (100, 250].
    const buckets = histogramOf([...Array(50).fill(3), ...Array(40).fill(20), ...Array(10).fill(200)]);
    // Rank 50 is the last of the first bucket: its upper bound.
    expect(quantile(buckets, 0.5)).toBe(5);
    // Rank 70 is the 20th of 40 in (10, 25]: 10 + 15 · 20/40.
    expect(quantile(buckets, 0.7)).toBeCloseTo(17.5, 10);
    // Rank 95 is the 5th of 10 in (100, 250]: 100 + 150 · 5/10.
    expect(quantile(buckets, 0.95)).toBeCloseTo(175, 10);
    // Rank 99: 100 + 150 · 9/10.
    expect(quantile(buckets, 0.99)).toBeCloseTo(235, 10);
    expect(quantile(buckets, 1)).toBe(250);
  });

  it("skips empty buckets and reports a rank in +Inf as the highest finite bound", () => {
    const buckets = histogramOf([1, 60_000]);
    expect(quantile(buckets, 0.5)).toBe(5);
    expect(quantile(buckets, 0.99)).toBe(10_000);
  });

  it("agrees with the exact quantile to within the bucket's width on uniform data", () => {
    const values = Array.from({ length: 1000 }, (_, i) => (i + 0.5) * 0.25); // 0…250 ms uniform
    const buckets = histogramOf(values);
    for (const q of [0.5, 0.9, 0.99]) {
      const exact = values[Math.ceil(q * values.length) - 1] as number;
      expect(Math.abs((quantile(buckets, q) as number) - exact)).toBeLessThanOrEqual(1);
    }
  });
});
