import { type ControlDb, controlDb } from "./db/client";
import { purgeExpiredIdempotencyRecords } from "./http/idempotency";
import { moveTenantsToTheirPools, resumeStalledMoves } from "./moves/service";
import { probeAllShards } from "./shards/health";

/** The cron expressions of wrangler.toml [triggers], and what each runs. */
export const CRONS = { resumeMoves: "* * * * *", probeShards: "*/5 * * * *", housekeeping: "17 * * * *" } as const;

type Job = (db: ControlDb, env: Env) => Promise<unknown>;

const JOBS: Record<(typeof CRONS)[keyof typeof CRONS], Job[]> = {
  // A move whose message was lost (or whose consumer died) goes on from where it stopped.
  [CRONS.resumeMoves]: [resumeStalledMoves],
  [CRONS.probeShards]: [probeAllShards],
  // A tenant left on the wrong pool (no shard of its plan's could take it then) is moved once one can.
  [CRONS.housekeeping]: [(db) => purgeExpiredIdempotencyRecords(db), moveTenantsToTheirPools],
};

/** Cron entry point: work that must not run on the request path. */
export async function scheduled(controller: ScheduledController, env: Env, ctx: ExecutionContext) {
  const jobs = JOBS[controller.cron as keyof typeof JOBS];
  if (!jobs) {
    console.warn(JSON.stringify({ level: "warn", msg: "no job for this cron", cron: controller.cron }));
    return;
  }
  const db = controlDb(env);
  for (const job of jobs) ctx.waitUntil(job(db, env));
}
