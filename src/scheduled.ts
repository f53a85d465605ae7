import { controlDb } from "./db/client";
import { purgeExpiredIdempotencyRecords } from "./http/idempotency";

/** Cron entry point: housekeeping that must not run on the request path. */
export async function scheduled(_controller: ScheduledController, env: Env, ctx: ExecutionContext) {
  ctx.waitUntil(purgeExpiredIdempotencyRecords(controlDb(env)));
}
