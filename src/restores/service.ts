import { and, desc, eq, lte } from "drizzle-orm";
import { type TenantArchive, tenantArchives } from "../archives/table";
import type { ControlDb } from "../db/client";
import { newestFirst, type PageRequest } from "../db/keyset";
import { eventFeed } from "../events/dataset";
import type { Emit } from "../events/domain";
import type { ChangeOrigin } from "../events/event";
import { newId } from "../http/ids";
import { AppError, notFound } from "../http/problems";
import { enqueue } from "../jobs/enqueue";
import { tenantMoves, unfinished as unfinishedMove } from "../moves/table";
import { plans } from "../plans/table";
import { openStore } from "../shards/connection";
import { prepareShard } from "../shards/migrate";
import { getShard, placeTenant, requireEligibleShard } from "../shards/service";
import { createTenant, getTenant } from "../tenants/service";
import { type Tenant, tenants } from "../tenants/table";
import { restoreStepMessage } from "./messages";
import { type RestoreKind, type TenantRestore, tenantRestores, unfinishedRestore } from "./table";

/** Where a restore reads from and up to which moment. */
type Source = { archive: TenantArchive | null; fromSeq: number | null; toSeq: number | null; at: number | null };

/** A tenant whose data a restore or clone can read: on a shard, ACTIVE or SUSPENDED. */
function requireLive(tenant: Tenant) {
  if (!tenant.shardId || (tenant.status !== "ACTIVE" && tenant.status !== "SUSPENDED")) {
    throw new AppError("tenant-not-ready", `A tenant in ${tenant.status} has no live data to restore from`);
  }
  return tenant.shardId;
}

/** The tenant's feed as far as it reaches: its first seq (null: empty) and the seq of `at`. */
async function feedAt(db: ControlDb, env: Env, tenant: Tenant, at: number | null) {
  const store = await openStore(env, await getShard(db, requireLive(tenant)));
  try {
    const range = await store.keyRange(eventFeed, tenant.id);
    const first = range ? Number(range.first) : null;
    const head = range ? Number(range.last) : 0;
    const seqAt = at === null ? head : await store.feed.seqAt(tenant.id, at);
    return { first, head, seqAt };
  } finally {
    await store.close();
  }
}

/** Can the events after `fromSeq` up to `toSeq` still be read (retention keeps a tail of the feed)? */
const replayable = (first: number | null, fromSeq: number, toSeq: number) =>
  toSeq <= fromSeq || (first !== null && first <= fromSeq + 1);

/** One of the tenant's completed backups; another tenant's id is 404 like an unknown one. */
async function completedBackup(db: ControlDb, tenantId: string, backupId: string): Promise<TenantArchive> {
  const backup = await db.query.tenantArchives.findFirst({
    where: and(
      eq(tenantArchives.tenantId, tenantId),
      eq(tenantArchives.kind, "backup"),
      eq(tenantArchives.id, backupId),
    ),
  });
  if (!backup) throw notFound("Backup");
  if (backup.state !== "completed") {
    throw new AppError("conflict", `A backup in state ${backup.state} cannot be restored from`);
  }
  return backup;
}

/**
 * A backup as of its end: its rows, and the events written while it was read replayed onto them
 * when the feed still holds them (otherwise its rows as they were read).
 */
async function fromBackup(db: ControlDb, env: Env, tenant: Tenant, backupId: string): Promise<Source> {
  const backup = await completedBackup(db, tenant.id, backupId);
  const fromSeq = backup.feedBeforeSeq ?? 0;
  const afterSeq = backup.feedAfterSeq ?? fromSeq;
  const feed = await feedAt(db, env, tenant, null);
  const toSeq = replayable(feed.first, fromSeq, afterSeq) ? afterSeq : fromSeq;
  return { archive: backup, fromSeq, toSeq, at: null };
}

/**
 * The tenant as of `at`: the newest completed backup whose snapshot ends at or before the last
 * event up to `at`, then the events after its start up to that one. 422 when no backup is that
 * old, or the feed no longer reaches back to it (EVENT_RETENTION_DAYS).
 */
async function asOf(db: ControlDb, env: Env, tenant: Tenant, at: number): Promise<Source> {
  if (at > Date.now()) throw new AppError("unprocessable-entity", "`at` is in the future");
  const feed = await feedAt(db, env, tenant, at);
  if (feed.seqAt === null) {
    throw new AppError("unprocessable-entity", "`at` is before the oldest event the feed still holds", {
      extensions: { oldest_seq: feed.first },
    });
  }
  const [backup] = await db
    .select()
    .from(tenantArchives)
    .where(
      and(
        eq(tenantArchives.tenantId, tenant.id),
        eq(tenantArchives.kind, "backup"),
        eq(tenantArchives.state, "completed"),
        lte(tenantArchives.feedAfterSeq, feed.seqAt),
        lte(tenantArchives.createdAt, at),
      ),
    )
    .orderBy(desc(tenantArchives.feedAfterSeq), desc(tenantArchives.id))
    .limit(1);
  if (!backup) throw new AppError("unprocessable-entity", "No completed backup of the tenant is older than `at`");
  const fromSeq = backup.feedBeforeSeq ?? 0;
  if (!replayable(feed.first, fromSeq, feed.seqAt)) {
    throw new AppError(
      "unprocessable-entity",
      "The feed no longer holds the events between the newest backup before `at` and `at`",
      { extensions: { backup_id: backup.id, oldest_seq: feed.first } },
    );
  }
  return { archive: backup, fromSeq, toSeq: feed.seqAt, at };
}

async function insertRestore(
  db: ControlDb,
  env: Env,
  values: Omit<typeof tenantRestores.$inferInsert, "id" | "state" | "createdAt" | "updatedAt" | "requestedBy"> & {
    id?: string;
  },
  origin: ChangeOrigin,
): Promise<TenantRestore> {
  const moving = await db.query.tenantMoves.findFirst({
    where: and(eq(tenantMoves.tenantId, values.tenantId), unfinishedMove()),
  });
  if (moving) {
    throw new AppError("conflict", "The tenant is being moved; restore it once the move is done", {
      extensions: { move_id: moving.id },
    });
  }
  const now = Date.now();
  const [restore] = await db
    .insert(tenantRestores)
    .values({
      id: values.id ?? newId("rst"),
      ...values,
      state: "queued",
      requestedBy: origin.actor,
      requestId: origin.requestId,
      nextStepAt: now,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing()
    .returning();
  if (!restore) {
    const running = await db.query.tenantRestores.findFirst({
      where: and(eq(tenantRestores.tenantId, values.tenantId), unfinishedRestore()),
    });
    throw new AppError("conflict", "A restore of the tenant is already under way", {
      extensions: running ? { restore_id: running.id } : {},
    });
  }
  await enqueue(env, restoreStepMessage, { restoreId: restore.id, seq: restore.stepSeq });
  return restore;
}

/**
 * Restores the tenant's entries in place, as of a backup's end or of a moment `at`: the state is
 * built apart (a staging copy on its shard), then its differences are written to the live
 * entries behind the write fence moves use, as ordinary changes with their events. The feed and
 * the audit trail are never rewound: they record the restore.
 */
export async function startRestore(
  db: ControlDb,
  env: Env,
  tenantId: string,
  request: { backupId: string } | { at: number },
  origin: ChangeOrigin,
): Promise<TenantRestore> {
  const tenant = await getTenant(db, tenantId);
  const shardId = requireLive(tenant);
  const source =
    "at" in request ? await asOf(db, env, tenant, request.at) : await fromBackup(db, env, tenant, request.backupId);
  const id = newId("rst");
  return insertRestore(
    db,
    env,
    {
      id,
      kind: "restore",
      tenantId,
      targetTenantId: tenantId,
      archiveId: source.archive?.id ?? null,
      targetShardId: shardId,
      stagingId: `stg_${id.slice(4)}`,
      at: source.at,
      fromSeq: source.fromSeq,
      toSeq: source.toSeq,
    },
    origin,
  );
}

/**
 * A new tenant holding the tenant's entries: as they are now, as of a backup, or as of a moment.
 * The clone is created at once (same tier and data region, its own id, placed like any new
 * tenant) in status RESTORING, and opens (ACTIVE) once its entries are written and checked. It
 * has none of the source's users, keys or secrets, and its own feed and audit trail.
 */
export async function startClone(
  db: ControlDb,
  emit: Emit,
  env: Env,
  tenantId: string,
  request: { name?: string; slug?: string; backupId?: string; at?: number; shardId?: string },
): Promise<{ restore: TenantRestore; tenant: Tenant }> {
  const tenant = await getTenant(db, tenantId);
  requireLive(tenant);
  const source: Source =
    request.at !== undefined
      ? await asOf(db, env, tenant, request.at)
      : request.backupId !== undefined
        ? await fromBackup(db, env, tenant, request.backupId)
        : { archive: null, fromSeq: null, toSeq: null, at: null };
  const running = await db.query.tenantRestores.findFirst({
    where: and(eq(tenantRestores.tenantId, tenantId), unfinishedRestore()),
  });
  if (running) {
    throw new AppError("conflict", "A restore of the tenant is already under way", {
      extensions: { restore_id: running.id },
    });
  }
  // A point-in-time clone's default name and slug: the source's, with the moment (20261201-1830).
  const moment =
    source.at === null ? "" : new Date(source.at).toISOString().slice(0, 16).replace(/[-:]/g, "").replace("T", "-");
  const clone = await createTenant(db, emit, env, {
    name: request.name ?? `${tenant.name} as of ${new Date(source.at ?? Date.now()).toISOString()}`.slice(0, 200),
    slug: request.slug ?? `${tenant.slug.slice(0, 49)}-${moment || "clone"}`,
    tier: tenant.tier,
    dataRegion: tenant.dataRegion,
    shardId: request.shardId ?? null,
  });
  if (clone.status !== "ACTIVE" || !clone.shardId) {
    throw new AppError("shard-unavailable", `The clone ${clone.id} could not be placed: ${clone.statusReason}`, {
      extensions: { tenant_id: clone.id },
    });
  }
  // No key of it exists yet, so no request of its own has seen it ACTIVE.
  const [restoring] = await db
    .update(tenants)
    .set({ status: "RESTORING", updatedAt: Date.now() })
    .where(eq(tenants.id, clone.id))
    .returning();
  await emit({ type: "tenant.updated", tenantId: clone.id });
  const restore = await insertRestore(
    db,
    env,
    {
      kind: "clone",
      tenantId,
      targetTenantId: clone.id,
      archiveId: source.archive?.id ?? null,
      targetShardId: clone.shardId,
      at: source.at,
      fromSeq: source.fromSeq,
      toSeq: source.toSeq,
    },
    emit.origin,
  );
  return { restore, tenant: restoring ?? clone };
}

/**
 * Brings an ARCHIVED tenant back: its hibernation archive imported onto a shard of its pool and
 * data region (or `shardId`, held to the rules of placement), every shard dataset checked against
 * the archive's checksums, then ACTIVE. A tenant whose archival never dropped its data (the
 * archive failed) is ACTIVE again at once: `restore` is then null.
 */
export async function startRehydrate(
  db: ControlDb,
  emit: Emit,
  env: Env,
  tenantId: string,
  request: { shardId?: string },
): Promise<{ restore: TenantRestore | null; tenant: Tenant }> {
  const tenant = await getTenant(db, tenantId);
  if (tenant.status !== "ARCHIVED") throw new AppError("conflict", `The tenant is ${tenant.status}, not ARCHIVED`);
  const [archive] = await db
    .select()
    .from(tenantArchives)
    .where(and(eq(tenantArchives.tenantId, tenantId), eq(tenantArchives.kind, "archive")))
    .orderBy(desc(tenantArchives.id))
    .limit(1);
  if (tenant.shardId) {
    if (archive && ["queued", "writing", "verifying"].includes(archive.state)) {
      throw new AppError("conflict", "The tenant is being archived; rehydrate it once that is done", {
        extensions: { archive_id: archive.id },
      });
    }
    // Its data never left its shard: nothing to import.
    const [back] = await db
      .update(tenants)
      .set({ status: "ACTIVE", archivedAt: null, updatedAt: Date.now() })
      .where(and(eq(tenants.id, tenantId), eq(tenants.status, "ARCHIVED")))
      .returning();
    await emit({ type: "tenant.updated", tenantId });
    return { restore: null, tenant: back ?? tenant };
  }
  if (archive?.state !== "completed")
    throw new AppError("conflict", "The tenant has no completed archive to rehydrate");
  const plan = await db.query.plans.findFirst({ where: eq(plans.tier, tenant.tier) });
  const dedicated = plan?.dedicatedShard ?? false;
  const shard = request.shardId
    ? await requireEligibleShard(db, env, request.shardId, { dedicated, region: tenant.dataRegion })
    : (await placeTenant(db, env, { dedicated, region: tenant.dataRegion })).shard;
  if (!shard) throw new AppError("shard-unavailable", "No shard of the tenant's pool and region is available");
  await prepareShard(db, env, shard);
  const restore = await insertRestore(
    db,
    env,
    { kind: "rehydrate", tenantId, targetTenantId: tenantId, archiveId: archive.id, targetShardId: shard.id },
    emit.origin,
  );
  return { restore, tenant };
}

/** One of the tenant's restores (as source or target); another tenant's id is 404 like an unknown one. */
export async function getRestore(db: ControlDb, tenantId: string, restoreId: string): Promise<TenantRestore> {
  const restore = await db.query.tenantRestores.findFirst({
    where: and(eq(tenantRestores.tenantId, tenantId), eq(tenantRestores.id, restoreId)),
  });
  if (!restore) throw notFound("Restore");
  return restore;
}

/** The tenant's restores, rehydrations and clones made from it, newest first. */
export async function listRestores(db: ControlDb, tenantId: string, page: PageRequest, kind?: RestoreKind) {
  const keyset = newestFirst(tenantRestores.id, page);
  const rows = await db
    .select()
    .from(tenantRestores)
    .where(
      and(
        eq(tenantRestores.tenantId, tenantId),
        kind === undefined ? undefined : eq(tenantRestores.kind, kind),
        keyset.after,
      ),
    )
    .orderBy(keyset.order)
    .limit(keyset.limit);
  return keyset.page(rows);
}
