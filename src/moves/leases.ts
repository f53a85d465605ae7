import { and, eq } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { tenantMoves } from "./table";

// How a move's steps hold it (src/moves/job.ts), and how the sweep finds one that nobody holds
// although it should be running (src/moves/service.ts).

/**
 * A step holds its move for this long past its last renewal, and renews every LEASE_RENEW_MS
 * while it runs, however slow it is: a consumer that dies mid-step frees the move within
 * LEASE_MS, for the sweep (src/moves/service.ts) to resume it.
 */
export const LEASE_MS = 20_000;
export const LEASE_RENEW_MS = 5_000;
/**
 * How late a queued step may be before the sweep takes its message for lost: past the queue's
 * batching and delivery, never near a minute. Together with the lease above, this and
 * the sweep's minute bound how long a lost message or a dead consumer can hold a move up:
 * MAX_STALL_MS, tested against 90 s.
 */
export const OVERDUE_MS = 20_000;
/** The sweep runs on the per-minute cron (src/jobs/scheduled.ts). */
export const SWEEP_INTERVAL_MS = 60_000;
export const MAX_STALL_MS = Math.max(OVERDUE_MS, LEASE_MS) + SWEEP_INTERVAL_MS;

/** Only the claim holding `token` writes to the move; false if it lost the move meanwhile. */
export const holding = (moveId: string, token: string) =>
  and(eq(tenantMoves.id, moveId), eq(tenantMoves.leaseToken, token));

/**
 * Renews the claim's lease every `renewMs` until stopped, so a step that is merely slow keeps
 * its move. `lost()` says whether a renewal found the move taken by another claim.
 */
export function holdLease(db: ControlDb, moveId: string, token: string, leaseMs = LEASE_MS, renewMs = LEASE_RENEW_MS) {
  let lost = false;
  const timer = setInterval(() => {
    db.update(tenantMoves)
      .set({ leaseUntil: Date.now() + leaseMs })
      .where(holding(moveId, token))
      .returning({ id: tenantMoves.id })
      .then(
        (rows) => {
          if (rows.length === 0) lost = true;
        },
        // A renewal the control database missed is retried at the next tick; the lease has slack.
        () => undefined,
      );
  }, renewMs);
  return { stop: () => clearInterval(timer), lost: () => lost };
}
