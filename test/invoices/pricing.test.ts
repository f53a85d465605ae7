import { describe, expect, it } from "vitest";
import { MeterPrice, price } from "../../src/invoices/pricing";

const tiers = (mode: "graduated" | "volume", extra: Partial<MeterPrice> = {}) =>
  MeterPrice.parse({
    tiers_mode: mode,
    // In cents: $0.0008 a unit up to 50,000, $0.0006 and a $10 flat fee from 50,001 to 100,000, $0.0004 beyond.
    tiers: [
      { up_to: 50_000, unit_amount_decimal: "0.08" },
      { up_to: 100_000, unit_amount_decimal: "0.06", flat_amount: 1000 },
      { up_to: null, unit_amount_decimal: "0.04" },
    ],
    ...extra,
  });

describe("pricing a meter", () => {
  it("volume: every unit at the rate of the tier the quantity falls in, plus its flat fee (65,000 units → $49.00)", () => {
    const priced = price(tiers("volume"), 65_000);
    // 65,000 × $0.0006 = $39.00, + $10.00.
    expect(priced.amount).toBe(4900);
    expect(priced.tiers).toEqual([
      { up_to: 100_000, quantity: 65_000, unit_amount_decimal: "0.06", flat_amount: 1000, amount_decimal: "4900" },
    ]);
  });

  it("graduated: each unit at the rate of its own tier, each reached tier's flat fee once", () => {
    // 50,000 × 0.08 = 4,000; 15,000 × 0.06 = 900, + 1,000.
    expect(price(tiers("graduated"), 65_000)).toMatchObject({
      amount: 5900,
      tiers: [
        { up_to: 50_000, quantity: 50_000, amount_decimal: "4000" },
        { up_to: 100_000, quantity: 15_000, amount_decimal: "1900" },
      ],
    });
    // 4,000 + (50,000 × 0.06 + 1,000) + 20,000 × 0.04.
    expect(price(tiers("graduated"), 120_000).amount).toBe(4000 + 4000 + 800);
  });

  it("counts up_to as part of its tier", () => {
    expect(price(tiers("volume"), 50_000)).toMatchObject({ amount: 4000, tiers: [{ up_to: 50_000 }] });
    // One more unit: all 50,001 at 0.06 (3,000.06) plus the flat fee, rounded.
    expect(price(tiers("volume"), 50_001)).toMatchObject({
      amount: 4000,
      tiers: [{ up_to: 100_000, amount_decimal: "4000.06" }],
    });
    expect(price(tiers("graduated"), 50_000).tiers).toHaveLength(1);
    expect(price(tiers("graduated"), 50_001).tiers.map((t) => t.quantity)).toEqual([50_000, 1]);
  });

  it("takes the included units off first, bills packages rounded up, and charges nothing for nothing", () => {
    const packaged = tiers("volume", { included: 1_000, divide_by: 1_000 });
    expect(price(packaged, 2_500)).toMatchObject({ quantity: 2_500, included: 1_000, billable: 2 });
    expect(price(packaged, 1_000)).toMatchObject({ billable: 0, tiers: [], amount: 0 });
    expect(price(tiers("graduated"), 0)).toMatchObject({ billable: 0, tiers: [], amount: 0 });
    // A gauge's average is fractional: its packages are whole.
    expect(price(tiers("volume", { divide_by: 10 }), 10.01).billable).toBe(2);
  });

  it("adds exact decimals and rounds only the line, half up", () => {
    const tiny = MeterPrice.parse({
      tiers_mode: "graduated",
      tiers: [{ up_to: null, unit_amount_decimal: "0.000000000001" }],
    });
    expect(price(tiny, 3)).toMatchObject({ amount: 0, tiers: [{ amount_decimal: "0.000000000003" }] });
    const half = MeterPrice.parse({ tiers_mode: "volume", tiers: [{ up_to: null, unit_amount_decimal: "0.5" }] });
    expect(price(half, 1).amount).toBe(1);
    expect(price(half, 3).amount).toBe(2);
    // Amounts past a double's exact integers still add exactly.
    const dear = MeterPrice.parse({
      tiers_mode: "volume",
      tiers: [{ up_to: null, unit_amount_decimal: "123456789.123456789123" }],
    });
    expect(price(dear, 1_000_000).tiers[0]?.amount_decimal).toBe("123456789123456.789123");
  });

  it("refuses tiers that do not end unbounded, that do not increase, or prices with over 12 decimals", () => {
    const bad = (value: unknown) => MeterPrice.safeParse(value).success;
    expect(bad({ tiers_mode: "volume", tiers: [{ up_to: 10 }] })).toBe(false);
    expect(bad({ tiers_mode: "volume", tiers: [{ up_to: 10 }, { up_to: 5 }, { up_to: null }] })).toBe(false);
    expect(bad({ tiers_mode: "volume", tiers: [{ up_to: null, unit_amount_decimal: "0.0000000000001" }] })).toBe(false);
    expect(bad({ tiers_mode: "volume", tiers: [{ up_to: null, unit_amount_decimal: "-1" }] })).toBe(false);
    expect(bad({ tiers_mode: "tiered", tiers: [{ up_to: null }] })).toBe(false);
    expect(bad({ tiers_mode: "volume", tiers: [{ up_to: 10 }, { up_to: null }] })).toBe(true);
  });
});
