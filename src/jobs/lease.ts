import { and, eq, lt, type SQL, sql } from "drizzle-orm";
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

/**
 * A control table of jobs run as queued steps (moves, archives): an id, the columns of
 * `leasedStepColumns` (src/db/columns.ts) and its `updated_at`.
 */
export type LeasedTable = SQLiteTable & {
  id: SQLiteColumn;
  leaseUntil: SQLiteColumn;
  leaseToken: SQLiteColumn;
  stepSeq: SQLiteColumn;
  nextStepAt: SQLiteColumn;
  attempts: SQLiteColumn;
  error: SQLiteColumn;
  updatedAt: SQLiteColumn;
};

/**
 * How a job's steps hold it: a claim sets `lease_until` and a random `lease_token`; only the
 * claim holding the token writes to the job, and it renews the lease while its step runs,
 * however slow it is, so a consumer that dies mid-step frees the job within the lease. Each
 * claim counts a step (`step_seq`): a message queued at another count is stale and dropped, so a
 * late original and the sweep's copy of a step run once. `unfinished` selects the jobs a step
 * may still run for.
 */
export function leasesOf<T extends LeasedTable>(table: T, unfinished: () => SQL) {
  type Row = T["$inferSelect"];

  /** Only the claim holding `token` writes to the job; false if it lost the job meanwhile. */
  const holding = (id: string, token: string): SQL => and(eq(table.id, id), eq(table.leaseToken, token)) as SQL;

  /**
   * Takes the job for this step unless another consumer holds it, it is finished, or the message
   * is stale (`seq` is not the job's step count; undefined: a message from before steps were counted).
   */
  async function claim(db: ControlDb, id: string, seq: number | undefined, token: string, now: number) {
    const [row] = await db
      .update(table)
      .set({ leaseUntil: now + JOB_LEASE_MS, leaseToken: token, stepSeq: sql`${table.stepSeq} + 1` } as never)
      .where(
        and(
          eq(table.id, id),
          lt(table.leaseUntil, now),
          unfinished(),
          seq === undefined ? undefined : eq(table.stepSeq, seq),
        ),
      )
      .returning();
    return row as Row | undefined;
  }

  /**
   * Renews the claim's lease every `renewMs` until stopped. `lost()` says whether a renewal found
   * the job taken by another claim.
   */
  function holdLease(db: ControlDb, id: string, token: string, leaseMs = JOB_LEASE_MS, renewMs = JOB_LEASE_RENEW_MS) {
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

  /**
   * One step of the job: claims it (`claim`), runs `step` while holding its lease (`holdLease`;
   * `lost()` says whether another claim took the job meanwhile), and stops renewing once done.
   * A step that throws goes to `failed`, the lease still held while it records the failure.
   * Resolves to the step's outcome with the claimed row and token, or null when the job could not
   * be claimed (held, finished, a stale message) or the step failed.
   */
  async function runClaimed<O>(
    db: ControlDb,
    id: string,
    seq: number | undefined,
    step: (row: Row, token: string, lost: () => boolean) => Promise<O>,
    failed: (row: Row, token: string, error: unknown) => Promise<void>,
  ): Promise<{ row: Row; token: string; outcome: O } | null> {
    const token = crypto.randomUUID();
    const row = await claim(db, id, seq, token, Date.now());
    if (!row) return null;
    const lease = holdLease(db, id, token);
    try {
      return { row, token, outcome: await step(row, token, lease.lost) };
    } catch (error) {
      await failed(row, token, error);
      return null;
    } finally {
      lease.stop();
    }
  }

  /**
   * Records a failed step to be tried again in `delaySeconds`, releasing the lease (with `also`,
   * further columns of the job); false when the claim had lost the job meanwhile.
   */
  async function retryLater(
    db: ControlDb,
    id: string,
    token: string,
    failure: { attempts: number; error: string; delaySeconds: number; also?: Partial<Row> },
    now = Date.now(),
  ): Promise<boolean> {
    const [recorded] = await db
      .update(table)
      .set({
        ...failure.also,
        attempts: failure.attempts,
        error: failure.error,
        leaseUntil: 0,
        leaseToken: null,
        updatedAt: now,
        nextStepAt: now + failure.delaySeconds * 1000,
      } as never)
      .where(holding(id, token))
      .returning({ id: table.id });
    return recorded !== undefined;
  }

  /**
   * The jobs whose step has stalled: JOB_OVERDUE_MS late and held by nobody (a running step
   * renews its lease, however slow). Each is made due now at its current step count and handed to
   * `requeue`, which queues a message of that count: should the original turn up late too,
   * whichever runs second is stale. Returns the ids requeued.
   */
  async function resumeStalled(
    db: ControlDb,
    requeue: (id: string, seq: number) => Promise<void>,
    now = Date.now(),
    limit = 100,
  ): Promise<string[]> {
    const stalled = (await db
      .select({ id: table.id, stepSeq: table.stepSeq })
      .from(table as SQLiteTable)
      .where(and(unfinished(), lt(table.nextStepAt, now - JOB_OVERDUE_MS), lt(table.leaseUntil, now)))
      .limit(limit)) as { id: string; stepSeq: number }[];
    const resumed: string[] = [];
    for (const { id, stepSeq } of stalled) {
      const [still] = await db
        .update(table)
        .set({ nextStepAt: now } as never)
        .where(and(eq(table.id, id), eq(table.stepSeq, stepSeq), lt(table.leaseUntil, now)))
        .returning({ id: table.id });
      if (!still) continue;
      await requeue(id, stepSeq);
      resumed.push(id);
    }
    return resumed;
  }

  return { holding, claim, holdLease, runClaimed, retryLater, resumeStalled };
}
