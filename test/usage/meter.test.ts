import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { UsageMeter } from "../../src/usage/meter";
import { HOUR_MS } from "../../src/usage/record";
import { combine, figuresOver } from "../../src/usage/store";
import type { UsageHour } from "../../src/usage/table";

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;

/** Runs `body` with a usage meter on a fresh object's storage (a gate no tenant uses). */
const withMeter = <T>(body: (make: () => UsageMeter) => T) =>
  runInDurableObject(env.TENANT_GATE.get(env.TENANT_GATE.newUniqueId()), (_, state) =>
    body(() => {
      const meter = new UsageMeter(state.storage.sql);
      meter.load();
      return meter;
    }),
  );

describe("the gate's usage meter", () => {
  it("adds counters per hour and hands them over once", async () => {
    const sealed = await withMeter((make) => {
      const meter = make();
      meter.count(T0 + 5 * MIN, "api_calls", 1);
      meter.count(T0 + 59 * MIN, "api_calls", 2);
      meter.count(T0 + HOUR_MS, "api_calls", 4);
      meter.count(T0 + 10 * MIN, "egress_bytes", 1234);
      meter.count(T0 + 10 * MIN, "entries_written", 0);
      const first = meter.seal(T0 + HOUR_MS + MIN);
      return { first, second: meter.seal(T0 + HOUR_MS + 2 * MIN) };
    });
    expect(sealed.first.counts).toEqual([
      { meter: "api_calls", hour: T0, quantity: 3 },
      { meter: "api_calls", hour: T0 + HOUR_MS, quantity: 4 },
      { meter: "egress_bytes", hour: T0, quantity: 1234 },
    ]);
    expect(sealed.second.counts).toEqual([]);
  });

  it("integrates the stored-bytes level over time: max, time-weighted average, hours closed as they pass", async () => {
    const sealed = await withMeter((make) => {
      const meter = make();
      meter.level(T0, 100);
      meter.level(T0 + 30 * MIN, 300);
      meter.level(T0 + 45 * MIN, 200);
      return meter.seal(T0 + HOUR_MS + 15 * MIN);
    });
    expect(sealed.gauge).toEqual([
      // 30 min at 100, 15 at 300, 15 at 200.
      { hour: T0, max: 300, avg: (30 * 100 + 15 * 300 + 15 * 200) / 60, last: 200, coveredMs: HOUR_MS },
      // The next hour so far: 15 minutes at the level carried in.
      { hour: T0 + HOUR_MS, max: 200, avg: 200, last: 200, coveredMs: 15 * MIN },
    ]);
  });

  it("hands over the hour a reading closed, with the next seal", async () => {
    const sealed = await withMeter((make) => {
      const meter = make();
      meter.level(T0 + 10 * MIN, 100);
      // The first reading of the next hour closes this one.
      meter.level(T0 + HOUR_MS + 5 * MIN, 200);
      meter.save();
      return make().seal(T0 + HOUR_MS + 10 * MIN);
    });
    expect(sealed.gauge).toEqual([
      { hour: T0, max: 100, avg: 100, last: 100, coveredMs: 50 * MIN },
      // 5 minutes at the 100 carried in, 5 at 200.
      { hour: T0 + HOUR_MS, max: 200, avg: 150, last: 200, coveredMs: 10 * MIN },
    ]);
  });

  it("averages over the part of the hour its level was known, and keeps its state across a restart", async () => {
    const { before, after } = await withMeter((make) => {
      const meter = make();
      meter.level(T0 + 40 * MIN, 600);
      meter.count(T0 + 41 * MIN, "api_calls", 7);
      meter.save();
      // A restarted gate reads the same state back.
      const restarted = make();
      const after = restarted.seal(T0 + 50 * MIN);
      return { before: meter.seal(T0 + 50 * MIN), after };
    });
    expect(after).toEqual(before);
    expect(after.gauge).toEqual([{ hour: T0, max: 600, avg: 600, last: 600, coveredMs: 10 * MIN }]);
    expect(after.counts).toEqual([{ meter: "api_calls", hour: T0, quantity: 7 }]);
  });

  it("asks for a reading with no level, after 5 minutes, and in a new hour", async () => {
    const asks = await withMeter((make) => {
      const meter = make();
      const none = meter.wantsReading(T0 + MIN);
      meter.level(T0 + MIN, 10);
      return [
        none,
        meter.wantsReading(T0 + 2 * MIN),
        meter.wantsReading(T0 + 6 * MIN),
        meter.wantsReading(T0 + HOUR_MS + 30_000),
      ];
    });
    expect(asks).toEqual([true, false, true, true]);
  });
});

describe("figures over a stretch", () => {
  const hour = (at: number, quantity: number, extra: Partial<UsageHour> = {}): UsageHour => ({
    tenantId: "ten_x",
    meter: "stored_bytes",
    hour: at,
    quantity,
    max: null,
    last: null,
    coveredMs: null,
    statedAt: null,
    ...extra,
  });

  it("sums a counter's hours", () => {
    const hours = [hour(T0, 5, { meter: "api_calls" }), hour(T0 + 3 * HOUR_MS, 7, { meter: "api_calls" })];
    expect(figuresOver("api_calls", hours, null, T0, T0 + 4 * HOUR_MS)).toEqual({
      quantity: 12,
      max: null,
      last: null,
      coveredMs: null,
    });
  });

  it("carries a gauge's level through hours with no statement, weighting each hour by the time it was known", () => {
    const hours = [
      hour(T0 + HOUR_MS, 50, { max: 80, last: 80, coveredMs: HOUR_MS / 2 }),
      hour(T0 + 3 * HOUR_MS, 10, { max: 10, last: 10, coveredMs: HOUR_MS }),
    ];
    // Hour 0: unknown (nothing before); hour 1: half an hour at an average of 50; hour 2: 80
    // carried; hour 3: 10.
    expect(figuresOver("stored_bytes", hours, null, T0, T0 + 4 * HOUR_MS)).toEqual({
      quantity: (50 * 0.5 + 80 + 10) / 2.5,
      max: 80,
      last: 10,
      coveredMs: 2.5 * HOUR_MS,
    });
    // With a level before the stretch, hour 0 has it.
    expect(figuresOver("stored_bytes", hours, 20, T0, T0 + 4 * HOUR_MS)).toEqual({
      quantity: (20 + 50 * 0.5 + 80 + 10) / 3.5,
      max: 80,
      last: 10,
      coveredMs: 3.5 * HOUR_MS,
    });
  });

  it("combines stretches: counters add, gauges average by time known", () => {
    expect(
      combine("stored_bytes", [
        { quantity: 100, max: 150, last: 120, coveredMs: 2 * HOUR_MS },
        { quantity: 40, max: 40, last: 40, coveredMs: HOUR_MS },
        { quantity: 0, max: null, last: null, coveredMs: 0 },
      ]),
    ).toEqual({ quantity: 80, max: 150, last: 40, coveredMs: 3 * HOUR_MS });
    expect(
      combine("exports", [
        { quantity: 2, max: null, last: null, coveredMs: null },
        { quantity: 3, max: null, last: null, coveredMs: null },
      ]),
    ).toEqual({ quantity: 5, max: null, last: null, coveredMs: null });
  });
});
