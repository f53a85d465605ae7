import { and, eq, isNotNull, lte, or, sql } from "drizzle-orm";
import { ARCHIVE_KINDS } from "../archives/format";
import { tenantArchives, unfinishedArchive } from "../archives/table";
import { platformRecordInsert } from "../audit/platform";
import { systemActor } from "../auth/actor";
import { purgeControlRows } from "../datasets/control";
import { ownedBy } from "../datasets/dataset";
import { purgeGate } from "../datasets/gate";
import { datasetsIn } from "../datasets/registry";
import { type ControlDb, controlDb } from "../db/client";
import { nudgeRelay } from "../events/nudge";
import { enqueue } from "../jobs/enqueue";
import type { FanOut } from "../jobs/fan-out";
import { tenantMoves, unfinished } from "../moves/table";
import { tenantRestores, unfinishedRestore } from "../restores/table";
import { settings } from "../settings";
import { openStore } from "../shards/connection";
import { findShard } from "../shards/service";
import { tenantRow } from "../tenants/dataset";
import { tenantIdsAfter } from "../tenants/service";
import { type Tenant, tenants } from "../tenants/table";
import { purgeTenantMessage } from "./messages";

/** A pass stops starting new batches after this long and queues the next pass. */
const PASS_BUDGET_MS = 15_000;
/** Rows deleted per statement. */
const PURGE_BATCH = 100;
/** How long a purge waits for a move or an archive of the tenant still under way. */
const BUSY_RETRY_SECONDS = 30;

const prefixesOf = (tenantId: string) => ARCHIVE_KINDS.map((kind) => `${kind}s/${tenantId}/`);

/**
 * Takes the tenant for purging: it must be DELETED and past its grace. From here on it cannot be
 * restored (its data is going), which the same statement records. Null when it is not due (a
 * restore won the race, or the grace has not passed).
 */
async function begin(db: ControlDb, tenantId: string, now: number): Promise<Tenant | undefined> {
  const [tenant] = await db
    .update(tenants)
    .set({ purgeStartedAt: sql`coalesce(${tenants.purgeStartedAt}, ${now})` })
    .where(and(eq(tenants.id, tenantId), eq(tenants.status, "DELETED"), lte(tenants.purgeAfter, now)))
    .returning();
  return tenant;
}

/** Whether a move, an archive or a restore of the tenant is still under way (they end soon: the tenant is DELETED). */
async function busy(db: ControlDb, tenantId: string): Promise<boolean> {
  const [move, archive, restore] = await Promise.all([
    db.query.tenantMoves.findFirst({ where: and(eq(tenantMoves.tenantId, tenantId), unfinished()) }),
    db.query.tenantArchives.findFirst({ where: and(eq(tenantArchives.tenantId, tenantId), unfinishedArchive()) }),
    db.query.tenantRestores.findFirst({
      where: and(
        or(eq(tenantRestores.tenantId, tenantId), eq(tenantRestores.targetTenantId, tenantId)),
        unfinishedRestore(),
      ),
    }),
  ]);
  return move !== undefined || archive !== undefined || restore !== undefined;
}

/**
 * Where rows of the tenant may be, by shard: its own shard, both ends of each of its moves (a
 * failed move's partial copy may be left on its target), the target of each of its restores,
 * and there, too, a restore's staging copy (a failed restore's may be left behind).
 */
async function rowsOf(db: ControlDb, tenant: Tenant): Promise<{ shardId: string; tenantId: string }[]> {
  const [moves, restores] = await Promise.all([
    db
      .select({ source: tenantMoves.sourceShardId, target: tenantMoves.targetShardId })
      .from(tenantMoves)
      .where(eq(tenantMoves.tenantId, tenant.id)),
    db
      .select({ shardId: tenantRestores.targetShardId, stagingId: tenantRestores.stagingId })
      .from(tenantRestores)
      .where(or(eq(tenantRestores.tenantId, tenant.id), eq(tenantRestores.targetTenantId, tenant.id))),
  ]);
  const shards = new Set<string>(moves.flatMap((move) => [move.source, move.target]));
  if (tenant.shardId) shards.add(tenant.shardId);
  for (const restore of restores) if (restore.shardId) shards.add(restore.shardId);
  return [
    ...[...shards].map((shardId) => ({ shardId, tenantId: tenant.id })),
    ...restores.flatMap((restore) =>
      restore.shardId && restore.stagingId ? [{ shardId: restore.shardId, tenantId: restore.stagingId }] : [],
    ),
  ];
}

/** Deletes these rows, in bounded batches; true once none is left on any shard. */
async function purgeShards(env: Env, db: ControlDb, places: { shardId: string; tenantId: string }[], deadline: number) {
  const batch = settings(env).moveBatchSize;
  for (const { shardId, tenantId } of places) {
    const shard = await findShard(db, shardId);
    // A shard since removed from the registry holds nothing reachable.
    if (!shard) continue;
    const store = await openStore(env, shard);
    try {
      while ((await store.purgeTenant(tenantId, batch)) > 0) if (Date.now() > deadline) return false;
    } finally {
      await store.close();
    }
  }
  return true;
}

/** Deletes the tenant's objects in the archives bucket, a listing page at a time; true once none is left. */
async function purgeObjects(env: Env, tenantId: string, deadline: number): Promise<boolean> {
  for (const prefix of prefixesOf(tenantId)) {
    for (;;) {
      if (Date.now() > deadline) return false;
      const listed = await env.ARCHIVES.list({ prefix, limit: 1000 });
      if (listed.objects.length > 0) await env.ARCHIVES.delete(listed.objects.map((object) => object.key));
      if (!listed.truncated) break;
    }
  }
  return true;
}

/**
 * One pass of purging a deleted tenant past its grace: its shard rows, its objects in the
 * archives bucket, its gate's storage (deleteAll), then its control rows, dependents first, and
 * last its own row, in one batch with the platform trail's record that it was purged (the tenant's
 * id and when it was deleted and purged; no personal data). Every part is idempotent and deletes
 * in bounded batches, so a pass that runs out of time queues the next, and one that crashed is
 * done again by the queue's retry or the next day's sweep, going on from what is left.
 */
export async function purgeTenantPass(
  env: Env,
  tenantId: string,
  now = Date.now(),
): Promise<"purged" | "later" | "not-due"> {
  const db = controlDb(env);
  const tenant = await begin(db, tenantId, now);
  if (!tenant) return "not-due";
  if (await busy(db, tenantId)) {
    await enqueue(env, purgeTenantMessage, { tenantId }, { delaySeconds: BUSY_RETRY_SECONDS });
    return "later";
  }
  const deadline = Date.now() + PASS_BUDGET_MS;
  const again = async () => {
    await enqueue(env, purgeTenantMessage, { tenantId });
    return "later" as const;
  };
  // Read before the moves' and restores' own rows go with the control data.
  const places = await rowsOf(db, tenant);
  if (!(await purgeShards(env, db, places, deadline))) return again();
  if (!(await purgeObjects(env, tenantId, deadline))) return again();
  await purgeGate(env, tenantId);
  // Dependents first (idempotency records belong to the tenant through its keys, keys to users).
  for (const dataset of datasetsIn("control").reverse()) {
    if (dataset === tenantRow) continue;
    while ((await purgeControlRows(db, dataset, tenantId, PURGE_BATCH)) > 0) {
      if (Date.now() > deadline) return again();
    }
  }
  // Once more, as the last step: a relay pass or a delivery under way when the purge began may
  // have written after the first sweep (none starts once purge_started_at is set).
  if (!(await purgeShards(env, db, tenant.shardId === null ? [] : [{ shardId: tenant.shardId, tenantId }], deadline))) {
    return again();
  }
  await purgeGate(env, tenantId);
  const record = platformRecordInsert(
    db,
    {
      action: "tenant.purged",
      actor: systemActor("tenant-purge"),
      targets: [{ type: "tenant", id: tenantId }],
      context: {
        ip: null,
        user_agent: null,
        country: null,
        request_id: null,
        deleted_at: tenant.deletedAt === null ? null : new Date(tenant.deletedAt).toISOString(),
      },
      status: 200,
    },
    sql`changes() > 0`,
  );
  // The record only if this pass removed the row (a pass run twice records the purge once); the
  // last control rows (a cursor, an outbox row written meanwhile) go in the same batch.
  const last = datasetsIn("control")
    .reverse()
    .filter((dataset) => dataset !== tenantRow)
    .map((dataset) => db.delete(dataset.tables.sqlite).where(ownedBy(dataset, dataset.tables.sqlite, tenantId)));
  const removal = db
    .delete(tenants)
    .where(and(eq(tenants.id, tenantId), eq(tenants.status, "DELETED"), isNotNull(tenants.purgeStartedAt)));
  // The platform record right after the tenant row's delete: `changes()` is that statement's.
  await db.batch([last[0] ?? removal, ...last.slice(1), ...(last.length > 0 ? [removal] : []), record]);
  // Links the platform trail's new record now rather than at the next sweep.
  await nudgeRelay(env, db, null);
  return "purged";
}

/** The daily sweep's tenants: DELETED and past their grace. */
export const duePurges: FanOut<typeof purgeTenantMessage.body> = {
  name: "purge-deleted-tenants",
  kind: purgeTenantMessage,
  body: (tenantId) => ({ tenantId }),
  due: (db, after, limit, at) =>
    tenantIdsAfter(db, and(eq(tenants.status, "DELETED"), lte(tenants.purgeAfter, at)), after, limit),
};
