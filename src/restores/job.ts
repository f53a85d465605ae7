import { and, eq, type SQL, sql } from "drizzle-orm";
import { importShardData } from "../archives/import";
import { openArchive } from "../archives/reader";
import { sampleEvery } from "../archives/sampling";
import { tenantArchives } from "../archives/table";
import type { Actor } from "../auth/actor";
import { datasetsIn } from "../datasets/registry";
import { type ControlDb, controlDb } from "../db/client";
import { errorText } from "../db/errors";
import { entryData } from "../entries/dataset";
import type { Entry } from "../entries/table";
import { feedHead } from "../events/dataset";
import type { EventType } from "../events/event";
import { nudgeRelay } from "../events/nudge";
import { outboxEvent } from "../events/outbox";
import { gateOf, tenantChanged } from "../gate/client";
import { enqueue } from "../jobs/enqueue";
import { leasesOf, retryDelaySeconds } from "../jobs/lease";
import { routeCache } from "../routing/cache";
import { settings } from "../settings";
import { openStore } from "../shards/connection";
import { getShard } from "../shards/service";
import type { ShardStore } from "../shards/store";
import { getTenant } from "../tenants/service";
import { tenants } from "../tenants/table";
import { applyStaging } from "./apply";
import { contentChecksum, datasetDigest } from "./checksum";
import { restoreHistory } from "./dataset";
import { restoreStepMessage } from "./messages";
import { replayEvents } from "./replay";
import { type TenantRestore, tenantRestores, unfinishedRestore } from "./table";

/** Failed tries in a row before a restore is given up. */
const MAX_ATTEMPTS = 5;
/** A step of replaying, applying or cleaning up stops after this long and queues the next. */
const STEP_BUDGET_MS = 15_000;
/** Rows deleted per dataset per purge statement (a failed import's leftovers, a staging copy). */
const PURGE_ROWS = 1_000;

const leases = leasesOf(tenantRestores, unfinishedRestore);
const { holding } = leases;

/** The try failed for good: retrying cannot help. */
class RestoreAborted extends Error {}
/** The try lost its lease: another claim holds the restore now. */
class LeaseLost extends Error {}

type Outcome = { change: Partial<TenantRestore>; next?: number };

/** The fence a restore in place raises in the tenant's gate (the moves' write fence, under its own id). */
const fenceId = (restore: TenantRestore) => `restore:${restore.id}`;

/**
 * Runs the next step of a restore and queues the one after (see RESTORE_STATES in ./table.ts).
 * Importing is one step (an archive streams from its start); replaying, applying and the
 * clean-up resume from their cursors. A failing step is retried with backoff from where it
 * stood; MAX_ATTEMPTS failed tries fail the restore, and what it wrote that is not advertised
 * (a staging copy, a half-imported target) is removed.
 */
export function runRestoreStep(env: Env, restoreId: string, seq: number): Promise<void> {
  // One at a time per isolate, like archives: an import holds a page and a stream.
  const run = oneAtATime.then(() => restoreStep(env, restoreId, seq));
  oneAtATime = run.catch(() => undefined);
  return run;
}

let oneAtATime: Promise<unknown> = Promise.resolve();

async function restoreStep(env: Env, restoreId: string, seq: number) {
  sampleEvery(settings(env).archiveSamplePauseRows);
  const db = controlDb(env);
  const claimed = await leases.runClaimed(
    db,
    restoreId,
    seq,
    (restore, _, lost) =>
      STEPS[restore.state](env, db, restore, () => {
        if (lost()) throw new LeaseLost("Another consumer took the restore over");
      }),
    (restore, token, error) => stepFailed(env, db, restore, token, error),
  );
  if (!claimed) return;
  const { row: restore, token, outcome } = claimed;
  const now = Date.now();
  const done = outcome.change.state === "completed";
  const [recorded] = await db
    .update(tenantRestores)
    .set({
      ...outcome.change,
      attempts: 0,
      error: null,
      leaseUntil: 0,
      leaseToken: null,
      updatedAt: now,
      nextStepAt: now + (outcome.next ?? 0) * 1000,
    })
    .where(holding(restore.id, token))
    .returning({ id: tenantRestores.id });
  if (!recorded) return leaseLost(restore);
  if (!done) {
    await enqueue(
      env,
      restoreStepMessage,
      { restoreId: restore.id, seq: restore.stepSeq },
      { delaySeconds: outcome.next ?? 0 },
    );
  }
}

type Step = (env: Env, db: ControlDb, restore: TenantRestore, lost: () => void) => Promise<Outcome>;

async function withStore<T>(env: Env, db: ControlDb, shardId: string, run: (store: ShardStore) => Promise<T>) {
  const store = await openStore(env, await getShard(db, shardId));
  try {
    return await run(store);
  } finally {
    await store.close();
  }
}

/** The source tenant's store, wherever it is now (it may have moved since the restore began). */
async function withSource<T>(env: Env, db: ControlDb, restore: TenantRestore, run: (store: ShardStore) => Promise<T>) {
  const tenant = await getTenant(db, restore.tenantId);
  if (!tenant.shardId) throw new RestoreAborted(`The tenant ${tenant.id} has no shard (${tenant.status})`);
  return withStore(env, db, tenant.shardId, run);
}

const targetOf = (restore: TenantRestore) => restore.stagingId ?? restore.targetTenantId;

/** Deletes every row of `tenantId` on the store, a bounded pass at a time, until none is left. */
async function purgeAll(store: ShardStore, tenantId: string, lost: () => void) {
  while ((await store.purgeTenant(tenantId, PURGE_ROWS)) > 0) lost();
}

/** The source's rows into the target: an archive's, or (a clone of the live tenant) its entries as they are now. */
const importing: Step = async (env, db, restore, lost) => {
  const { archivePageRows: pageRows } = settings(env);
  const into = targetOf(restore);
  const shardId = restore.targetShardId;
  if (!shardId) throw new RestoreAborted("The restore names no target shard");
  return withStore(env, db, shardId, async (target) => {
    // A try that died half-way left rows behind; the target holds nothing else of `into`.
    await purgeAll(target, into, lost);
    await db
      .update(tenantRestores)
      .set({ state: "importing", rowsImported: 0, updatedAt: Date.now() })
      .where(eq(tenantRestores.id, restore.id));
    const progress = () => lost();
    if (restore.archiveId) {
      const archive = await db.query.tenantArchives.findFirst({ where: eq(tenantArchives.id, restore.archiveId) });
      if (archive?.state !== "completed") throw new RestoreAborted(`The archive ${restore.archiveId} is gone`);
      const open = await openArchive(env.ARCHIVES, archive.objectKey, archive.manifestSha256);
      try {
        const imported = await importShardData(open, target, {
          from: restore.tenantId,
          into,
          // A rehydration brings back the tenant's every shard dataset; a restore or clone its entries only.
          datasets: restore.kind === "rehydrate" ? undefined : [entryData],
          pageRows,
          progress,
        });
        return { change: { state: replayOrNext(restore), rowsImported: imported.rows } };
      } finally {
        await open.close();
      }
    }
    // The live tenant: its entries page by page, between two feed positions the replay closes.
    return withSource(env, db, restore, async (source) => {
      const fromSeq = await feedHead(source, restore.tenantId);
      await target.registerTenant(into);
      let after: string | null = null;
      let rows = 0;
      for (;;) {
        const page: Entry[] = await source.rows(entryData, restore.tenantId, after, pageRows);
        if (page.length > 0) await target.importRows(entryData, into, page);
        rows += page.length;
        lost();
        const last = page.at(-1);
        if (page.length < pageRows || !last) break;
        after = last.id;
      }
      const toSeq = restore.toSeq ?? (await feedHead(source, restore.tenantId));
      return {
        change: { state: "replaying", rowsImported: rows, fromSeq, toSeq, replayedSeq: fromSeq },
      };
    });
  });
};

const replayOrNext = (restore: TenantRestore) =>
  restore.toSeq !== null && restore.fromSeq !== null && restore.toSeq > restore.fromSeq
    ? "replaying"
    : restore.stagingId
      ? "applying"
      : "verifying";

/** The source's events after the snapshot up to the moment asked for, onto the target. */
const replaying: Step = async (env, db, restore) => {
  const { archivePageRows: pageRows } = settings(env);
  const fromSeq = restore.replayedSeq ?? restore.fromSeq ?? 0;
  const toSeq = restore.toSeq ?? fromSeq;
  const shardId = restore.targetShardId as string;
  const progress = await withSource(env, db, restore, (source) =>
    withStore(env, db, shardId, (target) =>
      replayEvents(source, target, {
        from: restore.tenantId,
        into: targetOf(restore),
        fromSeq,
        toSeq,
        pageRows,
        deadline: Date.now() + STEP_BUDGET_MS,
      }),
    ),
  ).catch((error: unknown) => {
    // Events retention dropped meanwhile cannot come back: retrying would fail the same way.
    if (error instanceof Error && /dropped by retention/.test(error.message)) throw new RestoreAborted(error.message);
    throw error;
  });
  const change: Partial<TenantRestore> = {
    replayedSeq: progress.seq,
    eventsApplied: restore.eventsApplied + progress.applied,
  };
  if (progress.done) change.state = restore.stagingId ? "applying" : "verifying";
  return { change };
};

/** A restore in place: behind the write fence, the staging copy's differences onto the live entries. */
const applying: Step = async (env, db, restore) => {
  const { archivePageRows: pageRows, shardTimeoutMs } = settings(env);
  const tenant = await getTenant(db, restore.tenantId);
  if (tenant.shardId !== restore.targetShardId) {
    throw new RestoreAborted("The tenant moved to another shard during the restore");
  }
  const drainMs = shardTimeoutMs + 1_000;
  const fence = await gateOf(env, restore.tenantId).raiseFence(fenceId(restore), drainMs + 2 * STEP_BUDGET_MS, drainMs);
  if (!fence.raised) throw new Error("Another fence stands on the tenant (a move); trying again");
  if (!fence.drained) throw new Error(`${fence.inFlight} data write(s) were still running; trying again`);
  const progress = await withStore(env, db, tenant.shardId as string, (store) =>
    applyStaging(store, {
      tenantId: restore.tenantId,
      stagingId: restore.stagingId as string,
      cursor: restore.applyCursor,
      pageRows,
      deadline: Date.now() + STEP_BUDGET_MS,
      origin: { requestId: restore.requestId, actor: restore.requestedBy as Actor },
    }),
  );
  if (progress.changed > 0) await nudgeRelay(env, db, restore.tenantId);
  return {
    change: {
      applyCursor: progress.cursor,
      rowsChanged: restore.rowsChanged + progress.changed,
      ...(progress.done ? { state: "verifying" as const } : {}),
    },
  };
};

/**
 * Checks what was restored before anything says so:
 * - a rehydration: every shard dataset's rows and SHA-256 equal the archive's manifest; then the
 *   tenant is ACTIVE on its new shard and the archive's object goes;
 * - a clone: its entries' content checksum is recorded, and the clone opens (ACTIVE);
 * - in place: the live entries' content equals the staging copy's (still behind the fence);
 *   then the fence is lifted, and the staging copy removed.
 */
const verifying: Step = async (env, db, restore, lost) => {
  const { archivePageRows: pageRows } = settings(env);
  const shardId = restore.targetShardId as string;
  if (restore.kind === "rehydrate") return verifyRehydration(env, db, restore);
  if (restore.kind === "clone") {
    const checksum = await withStore(env, db, shardId, (store) =>
      contentChecksum(store, restore.targetTenantId, pageRows),
    );
    await openTenant(env, db, restore, "RESTORING");
    return finish(env, db, restore, { checksum: checksum.sha256 });
  }
  return withStore(env, db, shardId, async (store) => {
    let checksum = restore.checksum;
    if (checksum === null) {
      const [live, staged] = await Promise.all([
        contentChecksum(store, restore.tenantId, pageRows),
        contentChecksum(store, restore.stagingId as string, pageRows),
      ]);
      if (live.sha256 !== staged.sha256) {
        // Something wrote past the fence (it lapsed): compare and write the difference again.
        await db
          .update(tenantRestores)
          .set({ state: "applying", applyCursor: null })
          .where(eq(tenantRestores.id, restore.id));
        throw new Error("The live entries do not match the restored copy; applying again");
      }
      checksum = live.sha256;
      await gateOf(env, restore.tenantId).liftFence(restore.tenantId, fenceId(restore));
      // Recorded before the clean-up: once lifted, live writes resume and a re-check would fail.
      await db.update(tenantRestores).set({ checksum }).where(eq(tenantRestores.id, restore.id));
    }
    const deadline = Date.now() + STEP_BUDGET_MS;
    while ((await store.purgeTenant(restore.stagingId as string, PURGE_ROWS)) > 0) {
      lost();
      if (Date.now() >= deadline) return { change: { checksum } };
    }
    return finish(env, db, restore, { checksum });
  });
};

async function verifyRehydration(env: Env, db: ControlDb, restore: TenantRestore): Promise<Outcome> {
  const { archivePageRows: pageRows } = settings(env);
  const archive = await db.query.tenantArchives.findFirst({ where: eq(tenantArchives.id, restore.archiveId ?? "") });
  if (!archive) throw new RestoreAborted("The tenant's archive is gone");
  const shardId = restore.targetShardId as string;
  const tenant = await getTenant(db, restore.tenantId);
  // A try that died after opening the tenant: its data was checked, only the clean-up is left.
  const opened = tenant.status === "ACTIVE" && tenant.shardId === shardId;
  if (!opened) {
    const open = await openArchive(env.ARCHIVES, archive.objectKey, archive.manifestSha256);
    const files = open.manifest.files.filter((file) => file.home === "shard");
    await open.close();
    await withStore(env, db, shardId, async (store) => {
      const sources = { env, db, store, tenantId: restore.tenantId, pageRows };
      for (const dataset of datasetsIn("shard")) {
        const file = files.find((f) => f.dataset === dataset.name);
        const digest = await datasetDigest(sources, dataset);
        if (!file || digest.rows !== file.rows || digest.sha256 !== file.sha256) {
          throw new Error(
            `${dataset.name} on ${shardId} holds ${digest.rows} rows (${digest.sha256.slice(0, 12)}), the archive ${file?.rows} (${file?.sha256.slice(0, 12)}); importing again`,
          );
        }
      }
    });
    await openTenant(env, db, restore, "ARCHIVED");
  }
  // The data is live again: the hibernation archive is no longer the tenant's copy of it. Gone
  // before the restore says completed, so whoever sees it completed sees no stale copy either.
  await env.ARCHIVES.delete(archive.objectKey);
  await db
    .update(tenantArchives)
    .set({ state: "expired", updatedAt: Date.now() })
    .where(eq(tenantArchives.id, archive.id));
  return finish(env, db, restore, { checksum: archive.manifestSha256 });
}

/** The target tenant ACTIVE on the restore's shard, if it is still in `from` status; its gate hears of it. */
async function openTenant(env: Env, db: ControlDb, restore: TenantRestore, from: "ARCHIVED" | "RESTORING") {
  await db
    .update(tenants)
    .set({
      status: "ACTIVE",
      shardId: restore.targetShardId,
      archivedAt: null,
      statusReason: null,
      updatedAt: Date.now(),
    })
    .where(and(eq(tenants.id, restore.targetTenantId), eq(tenants.status, from)));
  routeCache(env).delete(restore.targetTenantId);
  await tenantChanged(env, restore.targetTenantId);
}

/** Completes the restore: its row and its event in one batch (the event only if the row changed). */
async function finish(
  env: Env,
  db: ControlDb,
  restore: TenantRestore,
  change: Partial<TenantRestore>,
): Promise<Outcome> {
  const now = Date.now();
  await db.batch([
    db
      .update(tenantRestores)
      .set({ ...change, state: "completed", completedAt: now, updatedAt: now })
      .where(and(eq(tenantRestores.id, restore.id), unfinishedRestore())),
    // The event follows the restore's own update: it is written only if that changed the row.
    restoreEvent(db, restore, "restore.completed", now),
  ]);
  await nudgeRelay(env, db, restore.tenantId);
  return { change: { ...change, state: "completed", completedAt: now } };
}

const restoreEvent = (db: ControlDb, restore: TenantRestore, type: EventType, now: number) =>
  outboxEvent(
    db,
    { origin: { requestId: restore.requestId, actor: restore.requestedBy as Actor } },
    {
      type,
      tenantId: restore.tenantId,
      subject: "restore",
      dataset: restoreHistory,
      where: and(eq(tenantRestores.id, restore.id), sql`changes() > 0`) as SQL,
    },
    now,
  );

const STEPS: Record<TenantRestore["state"], Step> = {
  queued: importing,
  importing,
  replaying,
  applying,
  verifying,
  completed: async () => ({ change: {} }),
  failed: async () => ({ change: {} }),
};

function leaseLost(restore: TenantRestore) {
  console.warn(JSON.stringify({ level: "warn", msg: "restore step lost its lease", restore_id: restore.id }));
}

/** A failed step: try again later from where it stood, or give the restore up and remove what it wrote. */
async function stepFailed(env: Env, db: ControlDb, restore: TenantRestore, token: string, error: unknown) {
  const reason = errorText(error instanceof Error ? error.message : error).slice(0, 500);
  const attempts = restore.attempts + 1;
  console.warn(
    JSON.stringify({
      level: "warn",
      msg: "restore step failed",
      restore_id: restore.id,
      kind: restore.kind,
      state: restore.state,
      attempts,
      error: reason,
    }),
  );
  if (error instanceof LeaseLost) return leaseLost(restore);
  const now = Date.now();
  if (error instanceof RestoreAborted || attempts >= MAX_ATTEMPTS) {
    const [failed] = (
      await db.batch([
        db
          .update(tenantRestores)
          .set({ state: "failed", attempts, error: reason, leaseUntil: 0, leaseToken: null, updatedAt: now })
          .where(holding(restore.id, token))
          .returning({ id: tenantRestores.id }),
        restoreEvent(db, restore, "restore.failed", now),
      ])
    )[0];
    if (!failed) return leaseLost(restore);
    await abandon(env, db, restore).catch((cleanup: unknown) =>
      console.warn(
        JSON.stringify({
          level: "warn",
          msg: "restore clean-up failed",
          restore_id: restore.id,
          error: errorText(cleanup),
        }),
      ),
    );
    await nudgeRelay(env, db, restore.tenantId);
    return;
  }
  const delaySeconds = retryDelaySeconds(settings(env).archiveRetryDelaySeconds, attempts);
  if (!(await leases.retryLater(db, restore.id, token, { attempts, error: reason, delaySeconds }, now))) {
    return leaseLost(restore);
  }
  await enqueue(env, restoreStepMessage, { restoreId: restore.id, seq: restore.stepSeq }, { delaySeconds });
}

/**
 * A failed restore's leftovers: the fence lifted, rows written under a staging id or for a tenant
 * that never opened removed (a failed clone stays RESTORING, holding nothing, for an operator to
 * delete). The live tenant of a restore in place is as the last applied page left it: the
 * restore's events say what changed.
 */
async function abandon(env: Env, db: ControlDb, restore: TenantRestore) {
  if (restore.stagingId) await gateOf(env, restore.tenantId).liftFence(restore.tenantId, fenceId(restore));
  if (!restore.targetShardId) return;
  const tenant = await db.query.tenants.findFirst({ where: eq(tenants.id, restore.targetTenantId) });
  const opened = tenant?.status === "ACTIVE" && tenant.shardId === restore.targetShardId && !restore.stagingId;
  if (opened) return;
  await withStore(env, db, restore.targetShardId, (store) => purgeAll(store, targetOf(restore), () => undefined));
}

/** Queues a step for every restore that has stalled (see resumeStalledArchives). */
export const resumeStalledRestores = (db: ControlDb, env: Env, now = Date.now()): Promise<string[]> =>
  leases.resumeStalled(db, (restoreId, seq) => enqueue(env, restoreStepMessage, { restoreId, seq }), now);
