import { eq, inArray } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { errorText } from "../db/errors";
import { chunksOf } from "../db/sql";
import { onTenantShard } from "../events/tenant-shard";
import { plans } from "../plans/table";
import { eachShardJob } from "../shards/connection";
import { shards } from "../shards/table";
import { tenants } from "../tenants/table";
import { chainTrail, signAt } from "./chainer";
import { checkpointKey } from "./checkpoints";
import type { TrailStatements } from "./engines/trail";
import { platformTrail } from "./platform";
import { verifyTrail } from "./service";

const DAY_MS = 24 * 60 * 60 * 1000;
/** Tenants per page of a shard's walk. */
const TENANT_PAGE = 200;

/** Records one call of dropExpired drops at most: each call is one admitted write, kept short. */
export const DROP_CHUNK = 5_000;

/**
 * Drops the trail's records older than `cutoff`, exactly, at most `limit` of the oldest per call
 * (the caller calls again while it returns `limit`): the last of them (seq k) gets a signed
 * checkpoint first, and verification then starts there (records ≤ k and older checkpoints go).
 * The records dropped are verified first, from the trail's start: retention never signs a hash it
 * has not checked, and a broken trail is left whole (and logged) for someone to look at.
 */
export async function dropExpired(
  trail: TrailStatements,
  tenantId: string | null,
  key: string,
  cutoff: number,
  now = Date.now(),
  limit = DROP_CHUNK,
): Promise<number> {
  const newest = await trail.lastBefore(tenantId, cutoff);
  if (newest === null) return 0;
  const first = (await trail.walk(tenantId, 0, 1))[0];
  if (!first) return 0;
  const last = Math.min(newest, first.seq - 1 + limit);
  const verified = await verifyTrail(trail, tenantId, key, "start", last);
  if (!verified.ok || verified.head.seq !== last || verified.pending > 0) {
    console.error(
      JSON.stringify({
        level: "error",
        msg: "audit retention left a trail whole: it does not verify up to the cutoff",
        trail: tenantId ?? "platform",
        broken: verified.broken,
        checked_through: verified.head.seq,
      }),
    );
    return 0;
  }
  // A checkpoint already at `last` stays as it is (the insert does nothing then).
  await signAt(trail, tenantId, key, verified.head, now);
  await trail.dropThrough(tenantId, last);
  return verified.checked;
}

/** Each tenant's audit retention, from its plan. */
async function retentionDays(db: ControlDb, tenantIds: string[]): Promise<Map<string, number>> {
  const days = new Map<string, number>();
  for (const chunk of chunksOf(tenantIds, 90)) {
    const rows = await db
      .select({ id: tenants.id, days: plans.auditRetentionDays })
      .from(tenants)
      .innerJoin(plans, eq(plans.tier, tenants.tier))
      .where(inArray(tenants.id, chunk));
    for (const row of rows) days.set(row.id, row.days);
  }
  return days;
}

/** The daily retention of every tenant's trail (its plan's window) and of the platform's. */
export async function applyAuditRetention(db: ControlDb, env: Env, now = Date.now()): Promise<void> {
  const key = checkpointKey(env);
  for (const shard of await db.select().from(shards)) {
    let after: string | null = null;
    for (;;) {
      // One shard out of reach holds back no other's retention; it is tried again tomorrow.
      const page = await eachShardJob(env, shard, "audit retention could not read a shard", (store) =>
        store.trail.tenants(after, TENANT_PAGE),
      );
      if (page === undefined) break;
      if (page.length === 0) break;
      const days = await retentionDays(db, page);
      for (const tenantId of page) {
        const window = days.get(tenantId);
        // A tenant no longer in the control database is the deletion job's to purge.
        if (window === undefined) continue;
        try {
          // What is left unlinked is linked first: retention checks only a linked trail. Each
          // chunk is its own admitted write, so a move's fence never outlasts one.
          await onTenantShard(env, db, tenantId, (here) =>
            chainTrail(here.trail, tenantId, key, now).then(() => undefined),
          );
          for (let dropped = DROP_CHUNK; dropped === DROP_CHUNK; ) {
            dropped = 0;
            await onTenantShard(env, db, tenantId, async (here) => {
              dropped = await dropExpired(here.trail, tenantId, key, now - window * DAY_MS, now);
            });
          }
        } catch (error) {
          console.warn(
            JSON.stringify({
              level: "warn",
              msg: "audit retention failed",
              tenant_id: tenantId,
              error: errorText(error),
            }),
          );
        }
      }
      after = page.at(-1) as string;
      if (page.length < TENANT_PAGE) break;
    }
  }
  const platformDays = Number(env.PLATFORM_AUDIT_RETENTION_DAYS ?? 365);
  const platform = platformTrail(db);
  while ((await dropExpired(platform, null, key, now - platformDays * DAY_MS, now)) === DROP_CHUNK);
}
