import { and, eq, gte, type SQL, sql } from "drizzle-orm";
import { checkpointKey } from "../audit/checkpoints";
import type { Actor } from "../auth/actor";
import { datasetsIn } from "../datasets/registry";
import { type ControlDb, controlDb } from "../db/client";
import { errorText } from "../db/errors";
import type { EventType } from "../events/event";
import { nudgeRelay } from "../events/nudge";
import { outboxEvent } from "../events/outbox";
import { gateOf, tenantChanged } from "../gate/client";
import { enqueue } from "../jobs/enqueue";
import { leasesOf, retryDelaySeconds } from "../jobs/lease";
import { tenantMoves } from "../moves/table";
import { routeCache } from "../routing/cache";
import { settings } from "../settings";
import { openStore } from "../shards/connection";
import { getShard } from "../shards/service";
import { getTenant } from "../tenants/service";
import { type TenantStatus, tenants } from "../tenants/table";
import { exportMade } from "../usage/record";
import { archiveRecords } from "./dataset";
import { type ArchiveKind, FORMAT_VERSION } from "./format";
import { archiveStepMessage } from "./messages";
import { pruneBackups } from "./retention";
import { sampleEvery } from "./sampling";
import { tryObjectKey } from "./service";
import { type TenantArchive, tenantArchives, unfinishedArchive } from "./table";
import { validateArchive } from "./validate";
import { writeArchive } from "./writer";

/** Failed tries in a row before an archive is given up (failed, its object deleted). */
const MAX_ATTEMPTS = 5;
/** Progress is written to the archive's row at most this often while it is written. */
const PROGRESS_EVERY_MS = 2_000;
/** Tenants in these states have data that can be archived; a hibernation archive's tenant is ARCHIVED first. */
const archivable = (kind: ArchiveKind): TenantStatus[] => (kind === "archive" ? ["ARCHIVED"] : ["ACTIVE", "SUSPENDED"]);
/** Rows a hibernated tenant's shard loses per dataset per statement, once its archive is verified. */
const DROP_ROWS = 1_000;

const leases = leasesOf(tenantArchives, unfinishedArchive);
const { holding } = leases;

/** The try failed for good: retrying cannot help (the tenant cannot be archived now). */
class ArchiveAborted extends Error {}

/** What was read back is not what was written: the next try writes it again. */
class ArchiveCorrupt extends Error {}

/** The events a finished archive announces, by kind (a hibernation archive's are its tenant's status changes). */
const COMPLETED: Partial<Record<ArchiveKind, EventType>> = { export: "export.completed", backup: "backup.completed" };
const FAILED: Partial<Record<ArchiveKind, EventType>> = { export: "export.failed", backup: "backup.failed" };

/** Test hooks: told the rows written so far; a throw stands for the consumer dying there. */
export type StepHooks = { progress?: (rows: number) => void | Promise<void> };

/** The try lost its lease (another claim holds the archive now): it stops and records nothing. */
class LeaseLost extends Error {}

type Outcome = { change: Partial<TenantArchive>; event?: EventType };

/**
 * Runs the next step of an archive and queues the one after:
 * - queued, writing: stream the tenant's datasets into a ZIP in the bucket (src/archives/writer.ts).
 *   The whole ZIP is one step: zip.js keeps the archive's directory in memory until it closes,
 *   so a try that dies is started again from the first row (its upload aborted or left to lapse,
 *   never completed). A move that switches the tenant's shard meanwhile fails the try too.
 * - verifying: read it all back over ranged GETs and check it (src/archives/validate.ts).
 * - then completed, with its event; only now is it offered for download or import.
 * A failing step is retried with backoff; MAX_ATTEMPTS failed tries (over the whole archive) fail it for good.
 */
export function runArchiveStep(env: Env, archiveId: string, seq: number, hooks: StepHooks = {}): Promise<void> {
  // One archive step at a time per isolate: a batch of them (the daily backups) would otherwise
  // hold a part buffer and a stream each at once, past an isolate's 128 MB.
  const run = oneAtATime.then(() => archiveStep(env, archiveId, seq, hooks));
  oneAtATime = run.catch(() => undefined);
  return run;
}

let oneAtATime: Promise<unknown> = Promise.resolve();

async function archiveStep(env: Env, archiveId: string, seq: number, hooks: StepHooks): Promise<void> {
  sampleEvery(settings(env).archiveSamplePauseRows);
  const db = controlDb(env);
  const claimed = await leases.runClaimed(
    db,
    archiveId,
    seq,
    (archive, token, lost) =>
      archive.state === "verifying"
        ? verify(env, db, archive, lost)
        : write(env, db, archive, token, { ...hooks, lost }),
    (archive, token, error) => stepFailed(env, db, archive, token, error),
  );
  if (!claimed) return;
  const { row: archive, token, outcome } = claimed;
  const now = Date.now();
  const done = outcome.change.state === "completed";
  // Before the step is recorded, under an id of the export's own: a retry after a failed record
  // sends the same record, which the usage consumer counts once.
  if (done && archive.kind === "export") {
    await env.USAGE_QUEUE.send(exportMade(archive.tenantId, archive.id, now), { contentType: "json" });
  }
  const record = db
    .update(tenantArchives)
    .set({
      ...outcome.change,
      // Failures count over the whole archive, not per step: a write that succeeds after a
      // read-back found it corrupt must not start the count again, or it could loop forever.
      attempts: done ? 0 : archive.attempts,
      error: null,
      leaseUntil: 0,
      leaseToken: null,
      updatedAt: now,
      nextStepAt: now,
    })
    .where(holding(archive.id, token))
    .returning({ id: tenantArchives.id });
  const [recorded] = outcome.event
    ? (await db.batch([record, archiveEvent(db, archive, outcome.event, now)]))[0]
    : await record;
  if (!recorded) {
    // Another claim took the archive over: the object this try wrote is nobody's.
    if (outcome.change.objectKey) await env.ARCHIVES.delete(outcome.change.objectKey).catch(() => undefined);
    return leaseLost(archive, "recording its step");
  }
  // The previous try's object (one found corrupt, say) is replaced by this one's.
  if (outcome.change.objectKey && outcome.change.objectKey !== archive.objectKey) {
    await env.ARCHIVES.delete(archive.objectKey).catch(() => undefined);
  }
  // No request follows a job's event to nudge the relay: the job does, so the feed has it at once.
  if (outcome.event) await nudgeRelay(env, db, archive.tenantId);
  if (done && archive.kind === "backup") await pruneBackups(db, env, archive.tenantId);
  if (!done) await enqueue(env, archiveStepMessage, { archiveId: archive.id, seq: archive.stepSeq });
}

/**
 * The archive's event (its row after the change), from whoever asked for it: in the change's
 * batch right after the update, and only if that update was this claim's (it changed a row).
 */
const archiveEvent = (db: ControlDb, archive: TenantArchive, type: EventType, now: number) =>
  outboxEvent(
    db,
    { origin: { requestId: archive.requestId, actor: archive.requestedBy as Actor } },
    {
      type,
      tenantId: archive.tenantId,
      subject: archive.kind,
      dataset: archiveRecords,
      where: and(eq(tenantArchives.id, archive.id), sql`changes() > 0`) as SQL,
    },
    now,
  );

async function write(
  env: Env,
  db: ControlDb,
  archive: TenantArchive,
  token: string,
  hooks: StepHooks & { lost: () => boolean },
): Promise<Outcome> {
  const startedAt = Date.now();
  const tenant = await getTenant(db, archive.tenantId);
  if (!archivable(archive.kind).includes(tenant.status) || !tenant.shardId) {
    throw new ArchiveAborted(`A tenant in ${tenant.status} has no data to archive`);
  }
  if (archive.kind === "archive") await drainWrites(env, archive);
  const shard = await getShard(db, tenant.shardId);
  const store = await openStore(env, shard);
  let reported = startedAt;
  const progress = async (rows: number) => {
    if (hooks.lost()) throw new LeaseLost("Another consumer took the archive over");
    await hooks.progress?.(rows);
    if (Date.now() - reported < PROGRESS_EVERY_MS) return;
    reported = Date.now();
    await db.update(tenantArchives).set({ rowsWritten: rows, updatedAt: reported }).where(holding(archive.id, token));
  };
  try {
    const counts = await Promise.all(datasetsIn("shard").map((dataset) => store.countRows(dataset, tenant.id)));
    await db
      .update(tenantArchives)
      .set({
        state: "writing",
        rowsWritten: 0,
        rowsExpected: counts.reduce((sum, rows) => sum + rows, 0),
        shardId: shard.id,
        updatedAt: startedAt,
      })
      .where(holding(archive.id, token));
    // Each try writes its own object, so a try that lost its lease can never overwrite (or delete)
    // the one another try completed; the step's record names the object that counts.
    const key = tryObjectKey(archive, token);
    const written = await writeArchive(
      { env, db, store, tenantId: tenant.id, pageRows: settings(env).archivePageRows },
      { kind: archive.kind, archiveId: archive.id, key, tenant, shard, progress },
    );
    // Rows read from a shard the tenant has since left may miss what it wrote on the new one.
    if (await movedSince(db, tenant.id, shard.id, startedAt)) {
      await env.ARCHIVES.delete(key);
      throw new Error("The tenant moved to another shard while it was read; writing it again");
    }
    return {
      change: {
        state: "verifying",
        objectKey: key,
        rowsWritten: written.rows,
        rows: written.rows,
        bytes: written.bytes,
        formatVersion: FORMAT_VERSION,
        manifestSha256: written.manifestSha256,
        feedBeforeSeq: written.manifest.feed.before_seq,
        feedAfterSeq: written.manifest.feed.after_seq,
      },
    };
  } finally {
    await store.close();
  }
}

async function movedSince(db: ControlDb, tenantId: string, shardId: string, since: number): Promise<boolean> {
  const tenant = await getTenant(db, tenantId);
  if (tenant.shardId !== shardId) return true;
  const switched = await db
    .select({ id: tenantMoves.id })
    .from(tenantMoves)
    .where(and(eq(tenantMoves.tenantId, tenantId), gte(tenantMoves.switchedAt, since)))
    .limit(1);
  return switched.length > 0;
}

/**
 * A hibernating tenant is ARCHIVED before it is read, so its gate admits no new write; a write
 * admitted just before may still be running. The moves' fence waits those out, and is lifted at
 * once: the status keeps writes out from here on.
 */
async function drainWrites(env: Env, archive: TenantArchive) {
  const { shardTimeoutMs } = settings(env);
  const gate = gateOf(env, archive.tenantId);
  const fenceId = `archive:${archive.id}`;
  const fence = await gate.raiseFence(fenceId, shardTimeoutMs + 2_000, shardTimeoutMs + 1_000);
  await gate.liftFence(archive.tenantId, fenceId);
  if (!fence.drained) throw new Error("Writes admitted before the tenant was archived were still running");
}

/** A verified hibernation archive holds the tenant's shard data: the shard lets it go, and the tenant its shard. */
async function dropShardData(env: Env, db: ControlDb, tenantId: string, lost: () => boolean) {
  const tenant = await getTenant(db, tenantId);
  if (!tenant.shardId) return;
  const store = await openStore(env, await getShard(db, tenant.shardId));
  try {
    while ((await store.purgeTenant(tenantId, DROP_ROWS)) > 0) {
      if (lost()) throw new LeaseLost("Another consumer took the archive over");
    }
  } finally {
    await store.close();
  }
  await db
    .update(tenants)
    .set({ shardId: null, updatedAt: Date.now() })
    .where(and(eq(tenants.id, tenantId), eq(tenants.status, "ARCHIVED")));
  routeCache(env).delete(tenantId);
  await tenantChanged(env, tenantId);
}

async function verify(env: Env, db: ControlDb, archive: TenantArchive, lost: () => boolean): Promise<Outcome> {
  const tenant = await getTenant(db, archive.tenantId);
  if (!archivable(archive.kind).includes(tenant.status)) throw new ArchiveAborted(`The tenant is ${tenant.status} now`);
  const check = await validateArchive(env.ARCHIVES, archive.objectKey, {
    tenantId: archive.tenantId,
    manifestSha256: archive.manifestSha256,
    checkpointKey: checkpointKey(env),
  });
  if (!check.ok) throw new ArchiveCorrupt(`The archive read back is not the one written: ${check.problem}`);
  if (archive.kind === "archive") await dropShardData(env, db, archive.tenantId, lost);
  const now = Date.now();
  return {
    change: {
      state: "completed",
      completedAt: now,
      expiresAt: archive.kind === "export" ? now + settings(env).exportRetentionMs : null,
    },
    event: COMPLETED[archive.kind],
  };
}

function leaseLost(archive: TenantArchive, doing: string) {
  console.warn(
    JSON.stringify({ level: "warn", msg: `archive step lost its lease before ${doing}`, archive_id: archive.id }),
  );
}

/** A failed step: try again later (from the start of its step), or give the archive up. */
async function stepFailed(env: Env, db: ControlDb, archive: TenantArchive, token: string, error: unknown) {
  const reason = errorText(error instanceof Error ? error.message : error).slice(0, 500);
  const attempts = archive.attempts + 1;
  console.warn(
    JSON.stringify({
      level: "warn",
      msg: "archive step failed",
      archive_id: archive.id,
      kind: archive.kind,
      state: archive.state,
      attempts,
      error: reason,
    }),
  );
  const now = Date.now();
  // A try that lost its lease leaves the archive to the claim that took it.
  if (error instanceof LeaseLost) {
    await env.ARCHIVES.delete(tryObjectKey(archive, token)).catch(() => undefined);
    return leaseLost(archive, "finishing its write");
  }
  if (error instanceof ArchiveAborted || attempts >= MAX_ATTEMPTS) {
    // Never leave an object behind that a listing of the bucket could take for an archive.
    await env.ARCHIVES.delete([archive.objectKey, tryObjectKey(archive, token)]).catch(() => undefined);
    const fail = db
      .update(tenantArchives)
      .set({ state: "failed", attempts, error: reason, leaseUntil: 0, leaseToken: null, updatedAt: now })
      .where(holding(archive.id, token));
    const type = FAILED[archive.kind];
    const failed = type ? [archiveEvent(db, archive, type, now)] : [];
    await db.batch([fail, ...failed]);
    if (failed.length > 0) await nudgeRelay(env, db, archive.tenantId);
    return;
  }
  const backoffSeconds = retryDelaySeconds(settings(env).archiveRetryDelaySeconds, attempts);
  const also = error instanceof ArchiveCorrupt ? { state: "queued" as const } : {};
  if (
    !(await leases.retryLater(
      db,
      archive.id,
      token,
      { attempts, error: reason, delaySeconds: backoffSeconds, also },
      now,
    ))
  ) {
    return leaseLost(archive, "recording its failure");
  }
  await enqueue(
    env,
    archiveStepMessage,
    { archiveId: archive.id, seq: archive.stepSeq },
    { delaySeconds: backoffSeconds },
  );
}

/**
 * Queues a step for every archive that has stalled: its step is JOB_OVERDUE_MS late and nobody
 * holds it (a lost message, a consumer that died mid-write). Run by the per-minute cron.
 */
export const resumeStalledArchives = (db: ControlDb, env: Env, now = Date.now()): Promise<string[]> =>
  leases.resumeStalled(db, (archiveId, seq) => enqueue(env, archiveStepMessage, { archiveId, seq }), now);
