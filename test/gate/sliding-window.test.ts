import { describe, expect, it } from "vitest";
import { SlidingWindowLog } from "../../src/gate/sliding-window";

const W = 60_000;
const T0 = 1_700_000_000_000;

/** Reference model: hits strictly inside (now - windowMs, now]. */
const naiveCount = (hits: number[], now: number, windowMs = W) => hits.filter((h) => h > now - windowMs).length;

describe("SlidingWindowLog: admission and exact wait", () => {
  it("an empty window admits at once and reports nothing to restore", () => {
    const log = new SlidingWindowLog(W);
    expect(log.count(T0)).toBe(0);
    expect(log.waitMs(T0, 1)).toBe(0);
    expect(log.waitMs(T0, 600)).toBe(0);
    expect(log.nextRestoreMs(T0)).toBe(0);
  });

  it("admits while count < limit and denies exactly at the limit", () => {
    const log = new SlidingWindowLog(W);
    const limit = 5;
    for (let i = 0; i < limit; i++) {
      const now = T0 + i * 1_000;
      expect(log.waitMs(now, limit)).toBe(0);
      log.record(now);
      expect(log.count(now)).toBe(i + 1);
    }
    // Five hits at T0, T0+1s ... T0+4s: the one that must leave is the oldest, at T0.
    const now = T0 + 4_000;
    expect(log.waitMs(now, limit)).toBe(T0 + W - now);
    expect(log.waitMs(now, limit)).toBe(56_000);
    expect(log.waitMs(now, limit + 1)).toBe(0);
  });

  it("waitMs counts down and reaches 0 exactly when the oldest hit leaves", () => {
    const log = new SlidingWindowLog(W);
    log.record(T0);
    log.record(T0 + 10_000);
    log.record(T0 + 25_000);
    expect(log.waitMs(T0 + 30_000, 3)).toBe(30_000);
    expect(log.waitMs(T0 + 59_999, 3)).toBe(1);
    expect(log.count(T0 + 59_999)).toBe(3);
    expect(log.waitMs(T0 + 60_000, 3)).toBe(0);
    expect(log.count(T0 + 60_000)).toBe(2);
    // Now at the limit 2: the next to leave is T0+10s.
    expect(log.waitMs(T0 + 60_000, 2)).toBe(10_000);
  });

  it("the hit that must leave is the (used - limit)th oldest, with arbitrary spacing", () => {
    const log = new SlidingWindowLog(W);
    const hits = [0, 3_000, 7_500, 7_500, 20_000, 41_000, 59_000].map((h) => T0 + h);
    for (const h of hits) log.record(h);
    const now = T0 + 59_500;
    expect(log.count(now)).toBe(7);
    // limit 7: one must leave → the oldest (T0).
    expect(log.waitMs(now, 7)).toBe(T0 + W - now);
    // limit 6: two must leave → the second oldest (T0 + 3000).
    expect(log.waitMs(now, 6)).toBe(T0 + 3_000 + W - now);
    // limit 5: three must leave → T0 + 7500.
    expect(log.waitMs(now, 5)).toBe(T0 + 7_500 + W - now);
    // limit 4: four must leave → the other hit at T0 + 7500 (same instant).
    expect(log.waitMs(now, 4)).toBe(T0 + 7_500 + W - now);
    // limit 2: six must leave → T0 + 41000.
    expect(log.waitMs(now, 2)).toBe(T0 + 41_000 + W - now);
    // limit 1: all seven must leave → the newest, T0 + 59000.
    expect(log.waitMs(now, 1)).toBe(T0 + 59_000 + W - now);
  });

  it("with the limit lowered below the current count, waits for several hits to expire", () => {
    const log = new SlidingWindowLog(W);
    for (let i = 0; i < 10; i++) log.record(T0 + i * 1_000);
    const now = T0 + 9_000;
    // Limit lowered from 10 to 3: count must drop to 2 → 8 hits must leave, the 8th at T0+7s.
    const wait = log.waitMs(now, 3);
    expect(wait).toBe(T0 + 7_000 + W - now);
    expect(wait).toBe(58_000);
    // Checking the claim: one ms earlier the count is still 3, at the instant it is 2.
    expect(log.count(now + wait - 1)).toBe(3);
    expect(log.waitMs(now + wait - 1, 3)).toBe(1);
    expect(log.count(now + wait)).toBe(2);
    expect(log.waitMs(now + wait, 3)).toBe(0);
  });

  it("without ties, the count drops to exactly limit - 1 after waitMs", () => {
    const hits = [0, 1, 2_000, 12_345, 30_000, 45_000, 59_999].map((h) => T0 + h);
    const now = T0 + 59_999;
    for (let limit = 1; limit <= hits.length; limit++) {
      const log = new SlidingWindowLog(W);
      for (const h of hits) log.record(h);
      const wait = log.waitMs(now, limit);
      expect(wait).toBe((hits[hits.length - limit] as number) + W - now);
      expect(log.count(now + wait)).toBe(limit - 1);
    }
  });

  it("after waiting waitMs the next request is admitted, for every limit", () => {
    const hits = [0, 1, 500, 500, 500, 12_345, 30_000, 45_000, 59_999].map((h) => T0 + h);
    const now = T0 + 59_999;
    for (let limit = 1; limit <= hits.length; limit++) {
      const log = new SlidingWindowLog(W);
      for (const h of hits) log.record(h);
      const wait = log.waitMs(now, limit);
      expect(wait).toBeGreaterThan(0);
      // Fresh log so that pruning at a later time does not hide an earlier instant.
      const probe = new SlidingWindowLog(W);
      for (const h of hits) probe.record(h);
      expect(probe.count(now + wait - 1)).toBeGreaterThanOrEqual(limit);
      expect(log.count(now + wait)).toBeLessThan(limit);
    }
  });
});

describe("SlidingWindowLog: window rollover", () => {
  it("a hit leaves at exactly t + windowMs (boundary is <= now - windowMs)", () => {
    const log = new SlidingWindowLog(W);
    for (let i = 0; i < 6; i++) log.record(T0 + i * 10_000); // t, t+10s, ..., t+50s
    expect(log.count(T0 + 50_000)).toBe(6);
    expect(log.count(T0 + 59_999)).toBe(6);
    expect(log.count(T0 + 60_000)).toBe(5);
    expect(log.count(T0 + 69_999)).toBe(5);
    expect(log.count(T0 + 70_000)).toBe(4);
    expect(log.count(T0 + 109_999)).toBe(1);
    expect(log.count(T0 + 110_000)).toBe(0);
  });

  it("a hit is still in the window 1 ms before it leaves, even when queried after other calls", () => {
    const log = new SlidingWindowLog(1_000);
    log.record(0);
    expect(log.count(999)).toBe(1);
    expect(log.count(1_000)).toBe(0);
  });

  it("works with a non-minute window", () => {
    const log = new SlidingWindowLog(5_000);
    log.record(T0);
    log.record(T0 + 4_000);
    expect(log.waitMs(T0 + 4_000, 2)).toBe(1_000);
    expect(log.count(T0 + 5_000)).toBe(1);
    expect(log.waitMs(T0 + 5_000, 2)).toBe(0);
  });

  it("windowMs is public and changing it changes the horizon", () => {
    const log = new SlidingWindowLog(W);
    log.record(T0);
    expect(log.windowMs).toBe(W);
    log.windowMs = 10_000;
    expect(log.count(T0 + 9_999)).toBe(1);
    expect(log.count(T0 + 10_000)).toBe(0);
  });
});

describe("SlidingWindowLog: nextRestoreMs", () => {
  it("is the time until the oldest hit still in the window leaves", () => {
    const log = new SlidingWindowLog(W);
    log.record(T0);
    log.record(T0 + 20_000);
    expect(log.nextRestoreMs(T0)).toBe(60_000);
    expect(log.nextRestoreMs(T0 + 30_000)).toBe(30_000);
    expect(log.nextRestoreMs(T0 + 59_999)).toBe(1);
    // The first has left: the second is now the oldest.
    expect(log.nextRestoreMs(T0 + 60_000)).toBe(20_000);
    expect(log.nextRestoreMs(T0 + 79_999)).toBe(1);
    expect(log.nextRestoreMs(T0 + 80_000)).toBe(0);
  });

  it("does not depend on the limit and ignores hits that have left", () => {
    const log = new SlidingWindowLog(W);
    for (let i = 0; i < 5; i++) log.record(T0 + i * 15_000); // 0, 15, 30, 45, 60 s
    expect(log.nextRestoreMs(T0 + 61_000)).toBe(T0 + 15_000 + W - (T0 + 61_000));
  });
});

describe("SlidingWindowLog: load, clear", () => {
  it("load restores hits so count and waitMs behave as if they had been recorded", () => {
    const hits = [T0, T0 + 5_000, T0 + 5_000, T0 + 30_000];
    const loaded = new SlidingWindowLog(W);
    loaded.load(hits);
    const recorded = new SlidingWindowLog(W);
    for (const h of hits) recorded.record(h);
    expect(loaded.count(T0 + 30_000)).toBe(4);
    expect(loaded.waitMs(T0 + 30_000, 4)).toBe(30_000);
    expect(loaded.waitMs(T0 + 30_000, 2)).toBe(35_000);
    for (const now of [T0 + 30_000, T0 + 59_999, T0 + 60_000, T0 + 65_000, T0 + 89_999, T0 + 90_000]) {
      expect(loaded.count(now)).toBe(recorded.count(now));
      expect(loaded.nextRestoreMs(now)).toBe(recorded.nextRestoreMs(now));
      for (let limit = 1; limit <= 4; limit++) expect(loaded.waitMs(now, limit)).toBe(recorded.waitMs(now, limit));
    }
    expect(loaded.count(T0 + 90_000)).toBe(0);
  });

  it("load replaces earlier state rather than appending to it", () => {
    const log = new SlidingWindowLog(W);
    for (let i = 0; i < 100; i++) log.record(T0 + i);
    log.count(T0 + W + 80); // prune most of them, so head > 0
    log.load([T0 + W + 50]);
    expect(log.count(T0 + W + 100)).toBe(1);
    expect(log.nextRestoreMs(T0 + W + 100)).toBe(W - 50);
  });

  it("load resets the read position even when nothing was compacted", () => {
    const log = new SlidingWindowLog(W);
    for (let i = 0; i < 10; i++) log.record(T0 + i * 1_000);
    expect(log.count(T0 + W + 4_500)).toBe(5); // five pruned, too few to compact
    log.load([T0 + W, T0 + W + 1_000, T0 + W + 2_000]);
    expect(log.count(T0 + W + 4_500)).toBe(3);
    expect(log.nextRestoreMs(T0 + W + 4_500)).toBe(W - 4_500);
    expect(log.waitMs(T0 + W + 4_500, 3)).toBe(W - 4_500);
  });

  it("load copies its input: mutating the array afterwards has no effect", () => {
    const hits = [T0, T0 + 1];
    const log = new SlidingWindowLog(W);
    log.load(hits);
    hits.push(T0 + 2, T0 + 3);
    hits[0] = T0 + 50_000;
    expect(log.count(T0 + 10)).toBe(2);
    expect(log.nextRestoreMs(T0 + 10)).toBe(W - 10);
  });

  it("clear empties the log", () => {
    const log = new SlidingWindowLog(W);
    for (let i = 0; i < 10; i++) log.record(T0 + i);
    log.clear();
    expect(log.count(T0 + 10)).toBe(0);
    expect(log.waitMs(T0 + 10, 1)).toBe(0);
    expect(log.nextRestoreMs(T0 + 10)).toBe(0);
    log.record(T0 + 20);
    expect(log.count(T0 + 20)).toBe(1);
  });
});

describe("SlidingWindowLog: compaction", () => {
  it("counts stay exact while thousands of hits flow through many windows", () => {
    const window = 1_000;
    const log = new SlidingWindowLog(window);
    const all: number[] = [];
    let t = T0;
    // 20_000 hits with irregular gaps (0..9 ms, deterministic), spanning ~90 windows.
    for (let i = 0; i < 20_000; i++) {
      t += (i * 7) % 10;
      log.record(t);
      all.push(t);
      if (i % 97 === 0) {
        expect(log.count(t)).toBe(naiveCount(all, t, window));
      }
    }
    expect(t - T0).toBeGreaterThan(50 * window);
    // Walk forward past the end in small steps: counts keep matching the model down to 0.
    for (let now = t; now <= t + window + 10; now += 37) {
      expect(log.count(now)).toBe(naiveCount(all, now, window));
    }
    expect(log.count(t + window)).toBe(0);
  });

  it("waitMs and nextRestoreMs stay exact across compactions", () => {
    const window = 500;
    const limit = 50;
    const log = new SlidingWindowLog(window);
    const admitted: number[] = [];
    // A client hammering every ms: only admit when waitMs says so.
    for (let now = T0; now < T0 + 20 * window; now++) {
      const wait = log.waitMs(now, limit);
      const live = admitted.filter((h) => h > now - window);
      expect(log.count(now)).toBe(live.length);
      if (live.length < limit) {
        expect(wait).toBe(0);
        log.record(now);
        admitted.push(now);
      } else {
        const hit = live[live.length - limit] as number;
        expect(wait).toBe(hit + window - now);
      }
      if (live.length > 0) expect(log.nextRestoreMs(now)).toBe((live[0] as number) + window - now);
    }
    // Never more than `limit` in any window: with a 1 ms client, exactly 50 per 500 ms.
    for (let start = T0; start < T0 + 19 * window; start += 123) {
      expect(admitted.filter((h) => h > start && h <= start + window).length).toBeLessThanOrEqual(limit);
    }
    expect(admitted.length).toBe(20 * limit);
  });

  it("load after compaction starts from the loaded hits only", () => {
    const log = new SlidingWindowLog(100);
    for (let i = 0; i < 1_000; i++) log.record(T0 + i);
    expect(log.count(T0 + 999)).toBe(100);
    log.load([T0 + 2_000, T0 + 2_010]);
    expect(log.count(T0 + 2_010)).toBe(2);
    expect(log.waitMs(T0 + 2_010, 2)).toBe(90);
  });
});
