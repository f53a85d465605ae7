import { integer, text } from "drizzle-orm/sqlite-core";

/** Epoch milliseconds; timestamps cross engines and JSON as plain numbers. */
export const epochMs = (name: string) => integer(name, { mode: "number" });

/** A JSON value stored as TEXT (SQLite has no JSON column type). */
export const jsonText = <T>(name: string) => text(name, { mode: "json" }).$type<T>();

/** The columns by which a job's table is leased (src/jobs/lease.ts; the table adds its own `updated_at`). */
export const leasedStepColumns = () => ({
  /** Failed tries (see each job for what resets them). */
  attempts: integer("attempts").notNull().default(0),
  error: text("error"),
  /**
   * A consumer working on the job holds it until then and renews it while its step runs; a
   * duplicate delivery leaves it alone, and a consumer that died lets it lapse within seconds.
   */
  leaseUntil: epochMs("lease_until").notNull().default(0),
  /** Random per claim: only the consumer holding it may renew the lease or record its step. */
  leaseToken: text("lease_token"),
  /** When the job's next queued step is due; the sweep resumes a job whose step is long overdue. */
  nextStepAt: epochMs("next_step_at").notNull().default(0),
  /** Steps claimed so far; each message names the count it was queued at, so a duplicate is dropped. */
  stepSeq: integer("step_seq").notNull().default(0),
});
