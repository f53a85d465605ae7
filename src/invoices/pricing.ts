import { z } from "zod";
import { METERS } from "../usage/record";

/** At most 12 decimal places in minor units, as Stripe's `unit_amount_decimal`. */
const SCALE = 10n ** 12n;
const DECIMAL = /^(0|[1-9][0-9]{0,15})(\.[0-9]{1,12})?$/;

/**
 * One tier of a meter's price, with Stripe's semantics: it holds the quantities up to and including
 * `up_to` (after the previous tier's); `null` is the last, unbounded tier. `unit_amount_decimal` is
 * a decimal string in minor units (0.06 is six hundredths of a cent); `flat_amount` is charged once
 * when any unit falls in the tier (graduated) or when the quantity is in it (volume).
 */
export const PriceTier = z
  .object({
    up_to: z.number().int().positive().nullable(),
    unit_amount_decimal: z.string().regex(DECIMAL, "a decimal string with at most 12 decimal places").default("0"),
    flat_amount: z.number().int().nonnegative().default(0),
  })
  .strict();

/**
 * A meter's price in a plan: units included in the base price, then tiers in `graduated` mode (each
 * unit priced by the tier it falls in) or `volume` mode (every unit priced by the tier the whole
 * quantity falls in). `divide_by` bills packages (1,000,000,000 bytes as one GB), rounded up.
 */
export const MeterPrice = z
  .object({
    included: z.number().int().nonnegative().default(0),
    tiers_mode: z.enum(["graduated", "volume"]),
    tiers: z
      .array(PriceTier)
      .min(1)
      .refine((tiers) => tiers.at(-1)?.up_to === null, "the last tier has up_to null (unbounded)")
      .refine(
        (tiers) =>
          tiers
            .slice(0, -1)
            .every((tier, i) => tier.up_to !== null && (i === 0 || tier.up_to > (tiers[i - 1]?.up_to ?? 0))),
        "tiers' up_to must increase, only the last may be null",
      ),
    divide_by: z.number().int().positive().default(1),
  })
  .strict();
export type MeterPrice = z.infer<typeof MeterPrice>;

/** A plan's prices: its currency (ISO 4217, lower case), base price per period, and each metered meter's price. */
export const PlanPricing = z
  .object({
    currency: z.string().regex(/^[a-z]{3}$/),
    base_amount: z.number().int().nonnegative(),
    meters: z.partialRecord(z.enum(METERS), MeterPrice),
  })
  .strict();
export type PlanPricing = z.infer<typeof PlanPricing>;

const scaled = (decimal: string): bigint => {
  const [whole = "0", fraction = ""] = decimal.split(".");
  return BigInt(whole) * SCALE + BigInt(fraction.padEnd(12, "0"));
};

/** An exact amount in minor units, scaled by 10^12, as a decimal string without trailing zeros. */
const decimalOf = (value: bigint): string => {
  const whole = value / SCALE;
  const fraction = (value % SCALE).toString().padStart(12, "0").replace(/0+$/, "");
  return fraction === "" ? whole.toString() : `${whole}.${fraction}`;
};

/** Half away from zero, to whole minor units (amounts are never negative). */
const rounded = (value: bigint): number => Number((value + SCALE / 2n) / SCALE);

export type AppliedTier = {
  up_to: number | null;
  quantity: number;
  unit_amount_decimal: string;
  flat_amount: number;
  /** Exact, in minor units: quantity × unit amount + flat amount. */
  amount_decimal: string;
};

export type Priced = {
  quantity: number;
  included: number;
  billable: number;
  tiers_mode: MeterPrice["tiers_mode"];
  tiers: AppliedTier[];
  /** Whole minor units: the exact sum of the tiers, rounded half up. */
  amount: number;
};

function applied(tier: z.infer<typeof PriceTier>, quantity: number): { tier: AppliedTier; exact: bigint } {
  const exact = BigInt(quantity) * scaled(tier.unit_amount_decimal) + BigInt(tier.flat_amount) * SCALE;
  return {
    tier: {
      up_to: tier.up_to,
      quantity,
      unit_amount_decimal: tier.unit_amount_decimal,
      flat_amount: tier.flat_amount,
      amount_decimal: decimalOf(exact),
    },
    exact,
  };
}

/**
 * A meter's line: the quantity used, less the units included, in packages of `divide_by` (rounded
 * up), priced by the tiers. No billable unit, no charge: a tier's flat amount is for a tier reached.
 */
export function price(price: MeterPrice, used: number): Priced {
  const quantity = Math.max(0, used);
  const billable = Math.ceil(Math.max(0, quantity - price.included) / price.divide_by);
  const tiers: AppliedTier[] = [];
  let total = 0n;
  if (billable > 0 && price.tiers_mode === "volume") {
    const tier = price.tiers.find((t) => t.up_to === null || billable <= t.up_to) as z.infer<typeof PriceTier>;
    const one = applied(tier, billable);
    tiers.push(one.tier);
    total = one.exact;
  } else if (billable > 0) {
    let below = 0;
    for (const tier of price.tiers) {
      const top = tier.up_to === null ? billable : Math.min(billable, tier.up_to);
      if (top <= below) break;
      const one = applied(tier, top - below);
      tiers.push(one.tier);
      total += one.exact;
      below = top;
    }
  }
  return { quantity, included: price.included, billable, tiers_mode: price.tiers_mode, tiers, amount: rounded(total) };
}
