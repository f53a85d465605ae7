import { eq } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { quotaPeriod } from "../gate/quota-period";
import { limitsOf } from "../gate/service";
import { plans } from "../plans/table";
import { tripsOf } from "../quotas/service";
import type { Quota } from "../quotas/table";
import type { TenantRoute } from "../routing/route";
import type { Meter } from "../usage/record";
import { usageSeries } from "../usage/service";
import { PlanPricing, type Priced, price } from "./pricing";

export type UsageLine = { type: "usage"; meter: Meter; description: string } & Priced;
export type BaseLine = { type: "base"; description: string; amount: number };

export type QuotaStatus = {
  quota: Quota;
  used: number;
  limit: number | null;
  percent: number | null;
  exceeded: boolean;
  first_exceeded_at: number | null;
};

const percentOf = (used: number, limit: number | null) =>
  limit === null ? null : limit === 0 ? 100 : Math.round((used / limit) * 10_000) / 100;

const status = (quota: Quota, used: number, limit: number | null, trippedAt: number | null): QuotaStatus => ({
  quota,
  used,
  limit,
  percent: percentOf(used, limit),
  exceeded: limit !== null && used >= limit,
  first_exceeded_at: trippedAt,
});

/**
 * What the tenant's invoice for the current period (the calendar month, UTC) comes to so far: the
 * plan's base price and a line per priced meter (its usage this period through the plan's tiers),
 * in the plan's currency's minor units; and where each quota stands.
 */
export async function invoicePreview(db: ControlDb, env: Env, route: TenantRoute, now = Date.now()) {
  const period = quotaPeriod(now);
  const [plan] = await db.select().from(plans).where(eq(plans.tier, route.tier));
  if (!plan) throw new Error(`the tenant's tier ${route.tier} has no plan`);
  const pricing = PlanPricing.parse(plan.pricing);
  const usageLines: UsageLine[] = [];
  for (const [meter, meterPrice] of Object.entries(pricing.meters) as [
    Meter,
    NonNullable<(typeof pricing.meters)[Meter]>,
  ][]) {
    const { total } = await usageSeries(db, route.tenantId, meter, "month", period.start, period.end, now);
    usageLines.push({
      type: "usage",
      meter,
      description: `${meter} this period`,
      ...price(meterPrice, total.quantity),
    });
  }
  const base: BaseLine = { type: "base", description: `${plan.name} plan`, amount: pricing.base_amount };
  const subtotal = base.amount + usageLines.reduce((sum, line) => sum + line.amount, 0);

  const [limits, trips] = await Promise.all([limitsOf(env, route), tripsOf(db, route.tenantId, period.id)]);
  const tripped = new Map(trips.map((trip) => [trip.quota, trip.trippedAt]));
  const quotas: QuotaStatus[] = [
    status(
      "monthly_requests",
      limits.monthly_requests.used,
      limits.monthly_requests.limit,
      tripped.get("monthly_requests") ?? null,
    ),
  ];
  if (limits.storage) {
    quotas.push(
      status("entries", limits.storage.entries, limits.storage.max_entries, tripped.get("entries") ?? null),
      status(
        "stored_bytes",
        limits.storage.stored_bytes,
        limits.storage.max_stored_bytes,
        tripped.get("stored_bytes") ?? null,
      ),
    );
  }
  return {
    tenant_id: route.tenantId,
    plan: { tier: plan.tier, name: plan.name },
    currency: pricing.currency,
    period: { start: period.start, end: period.end },
    lines: [base, ...usageLines],
    subtotal,
    total: subtotal,
    quotas,
    generated_at: now,
  };
}
