import { controlDb } from "./db/client";
import { purgeExpiredIdempotencyRecords } from "./http/idempotency";
import { resumeStalledMoves } from "./moves/service";
import { probeAllShards } from "./shards/health";

/** The cron expressions of wrangler.toml [triggers], and what each runs. */
export const CRONS = { probeShards: "*/5 * * * *", housekeeping: "17 * * * *" } as const;

/** Cron entry point: work that must not run on the request path. */
export async function scheduled(controller: ScheduledController, env: Env, ctx: ExecutionContext) {
  const db = controlDb(env);
  if (controller.cron === CRONS.probeShards) {
    ctx.waitUntil(probeAllShards(db, env));
    // A move whose message was lost (or whose retries ran out) goes on from where it stopped.
    ctx.waitUntil(resumeStalledMoves(db, env));
  } else ctx.waitUntil(purgeExpiredIdempotencyRecords(db));
}
