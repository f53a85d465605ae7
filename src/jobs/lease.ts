import { and, eq, type SQL } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import type { ControlDb } from "../db/client";

/**
 * A step holds its job this long past its last renewal and renews it every JOB_LEASE_RENEW_MS;
 * a queued step this late (past the queue's batching and delivery) is taken for lost by a sweep.
 */
export const JOB_LEASE_MS = 20_000;
export const JOB_LEASE_RENEW_MS = 5_000;
export const JOB_OVERDUE_MS = 20_000;

/** The wait before retrying after the `attempts`-th failure in a row: doubling from `first`, at most a minute. */
export const retryDelaySeconds = (first: number, attempts: number) => Math.min(60, first * 2 ** (attempts - 1));

/** A control table of jobs that consumers claim one at a time: an id, a lease's end and its holder. */
export type LeasedTable = SQLiteTable & { id: SQLiteColumn; leaseUntil: SQLiteColumn; leaseToken: SQLiteColumn };

/**
 * How a job's steps hold it: a claim sets `lease_until` and a random `lease_token`; only the
 * claim holding the token writes to the job, and it renews the lease while its step runs,
 * however slow it is, so a consumer that dies mid-step frees the job within the lease.
 */
export function leasesOf(table: LeasedTable) {
  /** Only the claim holding `token` writes to the job; false if it lost the job meanwhile. */
  const holding = (id: string, token: string): SQL => and(eq(table.id, id), eq(table.leaseToken, token)) as SQL;

  /**
   * Renews the claim's lease every `renewMs` until stopped. `lost()` says whether a renewal found
   * the job taken by another claim.
   */
  function holdLease(db: ControlDb, id: string, token: string, leaseMs: number, renewMs: number) {
    let lost = false;
    const timer = setInterval(() => {
      db.update(table)
        .set({ leaseUntil: Date.now() + leaseMs } as never)
        .where(holding(id, token))
        .returning({ id: table.id })
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

  return { holding, holdLease };
}
