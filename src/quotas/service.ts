import { and, eq, sql } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { systemOrigin } from "../events/listeners";
import { outboxEvent } from "../events/outbox";
import { quotaPeriod } from "../gate/quota-period";
import { quotaTripRecords } from "./dataset";
import { type Quota, quotaTrips } from "./table";

/**
 * Records that a quota refused the tenant, and emits `quota.exceeded`, the first time only in the
 * billing period: the event's insert runs in the trip's batch and only if the trip's row is new.
 * Returns whether this call was the first.
 */
export async function quotaTripped(db: ControlDb, tenantId: string, quota: Quota, limit: number, now = Date.now()) {
  const period = quotaPeriod(now).id;
  const id = `${tenantId}:${quota}:${period}`;
  const [inserted] = await db.batch([
    db
      .insert(quotaTrips)
      .values({ id, tenantId, quota, period, limit, trippedAt: now })
      .onConflictDoNothing()
      .returning({ id: quotaTrips.id }),
    outboxEvent(
      db,
      { origin: systemOrigin("quota") },
      {
        type: "quota.exceeded",
        tenantId,
        subject: "quota",
        dataset: quotaTripRecords,
        where: sql`${quotaTrips.id} = ${id} AND changes() = 1`,
      },
      now,
    ),
  ]);
  return inserted.length > 0;
}

/** The tenant's quota trips of a period (YYYY-MM). */
export const tripsOf = (db: ControlDb, tenantId: string, period: string) =>
  db
    .select()
    .from(quotaTrips)
    .where(and(eq(quotaTrips.tenantId, tenantId), eq(quotaTrips.period, period)));
