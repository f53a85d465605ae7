import type { ControlDb } from "../db/client";
import { eachShardJob } from "../shards/connection";
import { shards } from "../shards/table";

const DAY_MS = 24 * 60 * 60 * 1000;
const DROP_PAGE = 1_000;

/** Days published events stay in the feed (EVENT_RETENTION_DAYS, default 35). */
export const eventRetentionDays = (env: { EVENT_RETENTION_DAYS?: string }) => {
  const days = Number(env.EVENT_RETENTION_DAYS ?? 35);
  return Number.isFinite(days) && days > 0 ? days : 35;
};

/**
 * The daily drop of published events older than the window, on every shard. A tenant's newest
 * event always stays: the next seq counts from it, so an id is never given twice.
 */
export async function applyEventRetention(db: ControlDb, env: Env, now = Date.now()): Promise<number> {
  const before = now - eventRetentionDays(env) * DAY_MS;
  let dropped = 0;
  for (const shard of await db.select().from(shards)) {
    await eachShardJob(env, shard, "event retention failed on a shard", async (store) => {
      for (;;) {
        const gone = await store.feed.dropPublished(before, DROP_PAGE);
        dropped += gone;
        if (gone < DROP_PAGE) return;
      }
    });
  }
  return dropped;
}
