import type { ControlDb } from "../db/client";
import { JOB_LEASE_MS, JOB_LEASE_RENEW_MS, JOB_OVERDUE_MS, leasesOf } from "../jobs/lease";
import { tenantMoves, unfinished } from "./table";

// How a move's steps hold it (src/moves/job.ts), and how the sweep finds one that nobody holds
// although it should be running (src/moves/service.ts).

/**
 * A step holds its move for this long past its last renewal, and renews every LEASE_RENEW_MS
 * while it runs, however slow it is: a consumer that dies mid-step frees the move within
 * LEASE_MS, for the sweep (src/moves/service.ts) to resume it.
 */
export const LEASE_MS = JOB_LEASE_MS;
export const LEASE_RENEW_MS = JOB_LEASE_RENEW_MS;
/**
 * How late a queued step may be before the sweep takes its message for lost: past the queue's
 * batching and delivery, never near a minute. Together with the lease above, this and
 * the sweep's minute bound how long a lost message or a dead consumer can hold a move up:
 * MAX_STALL_MS, tested against 90 s.
 */
export const OVERDUE_MS = JOB_OVERDUE_MS;
/** The sweep runs on the per-minute cron (src/jobs/scheduled.ts). */
export const SWEEP_INTERVAL_MS = 60_000;
export const MAX_STALL_MS = Math.max(OVERDUE_MS, LEASE_MS) + SWEEP_INTERVAL_MS;

export const moveLeases = leasesOf(tenantMoves, unfinished);

/** Only the claim holding `token` writes to the move; false if it lost the move meanwhile. */
export const holding = moveLeases.holding;

/**
 * Renews the claim's lease every `renewMs` until stopped, so a step that is merely slow keeps
 * its move. `lost()` says whether a renewal found the move taken by another claim.
 */
export const holdLease = (db: ControlDb, moveId: string, token: string, leaseMs = LEASE_MS, renewMs = LEASE_RENEW_MS) =>
  moveLeases.holdLease(db, moveId, token, leaseMs, renewMs);
