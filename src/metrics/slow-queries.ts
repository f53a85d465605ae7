import { and, eq } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { newestFirst, type PageRequest } from "../db/keyset";
import { chunksOf } from "../db/sql";
import type { Outcome } from "../gate/protocol";
import { newId } from "../http/ids";
import { type SlowQuery, slowQueries } from "./table";

/** A slow shard call as the gate keeps it until the control database has it. */
export type SlowCall = Omit<SlowQuery, "tenantId">;

/** Slow calls a gate keeps per minute; past that a burst is the same story told again. */
export const SLOW_CALLS_PER_MINUTE = 60;

/** The calls of `outcomes` that took at least `thresholdMs`, with fresh ids. */
export function slowCallsOf(outcomes: Outcome[], thresholdMs: number, route: string | null, at: number): SlowCall[] {
  const slow: SlowCall[] = [];
  for (const { shardId, calls } of outcomes) {
    if (shardId === undefined || !calls) continue;
    for (const call of calls) {
      if (call.ms < thresholdMs) continue;
      slow.push({ id: newId("slq"), shardId, at, name: call.name, ms: call.ms, failed: call.failed ? 1 : 0, route });
    }
  }
  return slow;
}

/** Stores a tenant's slow calls; one already stored (sent again) is left as it is. */
export async function storeSlowQueries(db: ControlDb, tenantId: string, calls: SlowCall[]) {
  for (const chunk of chunksOf(calls, 10)) {
    await db
      .insert(slowQueries)
      .values(chunk.map((call) => ({ ...call, tenantId })))
      .onConflictDoNothing();
  }
}

/** A shard's slow calls, newest first, optionally of one tenant. */
export async function listSlowQueries(db: ControlDb, shardId: string, tenantId: string | undefined, page: PageRequest) {
  const keyset = newestFirst(slowQueries.id, page);
  const rows = await db
    .select()
    .from(slowQueries)
    .where(
      and(
        eq(slowQueries.shardId, shardId),
        tenantId === undefined ? undefined : eq(slowQueries.tenantId, tenantId),
        keyset.after,
      ),
    )
    .orderBy(keyset.order)
    .limit(keyset.limit);
  return keyset.page(rows);
}
