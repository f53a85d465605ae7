import { and, eq, sql } from "drizzle-orm";
import { datasetsIn } from "../datasets/registry";
import { type ControlDb, controlDb } from "../db/client";
import { errorText } from "../db/errors";
import { gateOf } from "../gate/client";
import { enqueue } from "../jobs/enqueue";
import { retryDelaySeconds } from "../jobs/lease";
import { routeCache } from "../routing/cache";
import { settings } from "../settings";
import { openStore } from "../shards/connection";
import { prepareShard } from "../shards/migrate";
import { getShard } from "../shards/service";
import type { ShardStore } from "../shards/store";
import { getTenant, placeOn } from "../tenants/service";
import { tenants } from "../tenants/table";
import { holding, moveLeases } from "./leases";
import { moveStepMessage } from "./messages";
import { moveToPlanPool } from "./service";
import { type TenantMove, tenantMoves } from "./table";
import { copyBatch, positionOf, positionText, syncDifferences, verifyCopies } from "./transfer";

/** A step stops starting new batches after this long, so one message is one bounded piece of work. */
const STEP_BUDGET_MS = 15_000;
/** Failed steps in a row before a move that has not switched yet gives up and rolls back. */
const MAX_ATTEMPTS = 5;
/** Catch-up passes before the fence stop once a pass changes at most this many entries. */
const QUIET_PASS_ROWS = 50;
/** The fence stands at most this long past draining: the last sync and the verification. */
const CUTOVER_MS = 60_000;
/**
 * A sealed fence stands this long unless lifted: a switch that failed half-way is retried well
 * within it. Should it lapse after the switch, the gate's route (reloaded every
 * GATE_MAX_STALENESS_MS) already names the target.
 */
const SEALED_MS = 10 * 60_000;

/** A reason to stop the move for good (roll back) rather than try the step again. */
class MoveAborted extends Error {}

type Change = Partial<
  Pick<TenantMove, "state" | "copyCursor" | "rowsTotal" | "rowsCopied" | "rowsVerified" | "checksum">
>;
type StepOutcome = { change: Change; next: number | null };

async function withStores<T>(
  env: Env,
  db: ControlDb,
  move: TenantMove,
  run: (source: ShardStore, target: ShardStore) => Promise<T>,
): Promise<T> {
  const [sourceShard, targetShard] = await Promise.all([
    getShard(db, move.sourceShardId),
    getShard(db, move.targetShardId),
  ]);
  const source = await openStore(env, sourceShard);
  try {
    const target = await openStore(env, targetShard);
    try {
      return await run(source, target);
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

/**
 * Runs the next step of a tenant move and queues the one after. The steps:
 * - queued: migrate the target shard, register the tenant there;
 * - copying: copy every shard dataset's rows (src/datasets) in batches of MOVE_BATCH_SIZE, in key
 *   order, while writes go on;
 * - syncing: catch up with what changed meanwhile, until a pass finds little to do;
 * - cutting-over: fence the tenant's data writes in its gate, wait for those already admitted,
 *   sync the rest, verify counts, checksums and usage, seal the fence, switch the route, lift it;
 * - cleaning-up: once no request can still be reading the old shard, delete the tenant there.
 * A failing step is tried again (with backoff); before the switch, MAX_ATTEMPTS failures or a
 * failed verification roll the move back (fence lifted, the target's copy deleted).
 */
export async function runMoveStep(env: Env, moveId: string, seq?: number): Promise<void> {
  const db = controlDb(env);
  const claimed = await moveLeases.runClaimed(
    db,
    moveId,
    seq,
    (move) => step(env, db, move),
    (move, token, error) => stepFailed(env, db, move, token, error),
  );
  if (!claimed) return;
  const { row: move, token, outcome } = claimed;
  const now = Date.now();
  const next = outcome.next;
  const [recorded] = await db
    .update(tenantMoves)
    .set({
      ...outcome.change,
      attempts: 0,
      error: null,
      leaseUntil: 0,
      leaseToken: null,
      updatedAt: now,
      ...(next === null ? {} : { nextStepAt: now + next * 1000 }),
      ...(outcome.change.state === "completed" ? { finishedAt: now } : {}),
    })
    .where(holding(move.id, token))
    .returning({ id: tenantMoves.id });
  // Another claim took the move over (this one's lease lapsed): that one goes on from here.
  if (!recorded) return leaseLost(move, "recording its step");
  if (next !== null)
    await enqueue(env, moveStepMessage, { moveId: move.id, seq: move.stepSeq }, { delaySeconds: next });
  if (outcome.change.state === "completed") await followPlan(env, db, move);
}

/**
 * A tier change made while the move ran could not start a move of its own: once this one is
 * over, the tenant goes on to a shard of its plan's pool if the one it is on is not.
 */
async function followPlan(env: Env, db: ControlDb, move: TenantMove) {
  try {
    const next = await moveToPlanPool(db, env, move.tenantId);
    if (next) {
      console.log(JSON.stringify({ level: "info", msg: "move follows the plan", move_id: next.id, after: move.id }));
    }
  } catch (error) {
    console.warn(
      JSON.stringify({
        level: "warn",
        msg: "follow-up move not started",
        tenant_id: move.tenantId,
        error: errorText(error),
      }),
    );
  }
}

function leaseLost(move: TenantMove, doing: string) {
  console.warn(
    JSON.stringify({
      level: "warn",
      msg: `move step lost its lease before ${doing}`,
      move_id: move.id,
      state: move.state,
    }),
  );
}

function step(env: Env, db: ControlDb, move: TenantMove): Promise<StepOutcome> {
  switch (move.state) {
    case "queued":
      return prepare(env, db, move);
    case "copying":
      return copy(env, db, move);
    case "syncing":
      return catchUp(env, db, move);
    case "cutting-over":
      return cutOver(env, db, move);
    case "cleaning-up":
      return cleanUp(env, db, move);
    default:
      throw new MoveAborted(`A move in state ${move.state} has no step`);
  }
}

async function prepare(env: Env, db: ControlDb, move: TenantMove): Promise<StepOutcome> {
  const tenant = await getTenant(db, move.tenantId);
  if (tenant.shardId !== move.sourceShardId) {
    throw new MoveAborted(`The tenant is on ${tenant.shardId}, not on ${move.sourceShardId}`);
  }
  await prepareShard(db, env, await getShard(db, move.targetShardId));
  const rowsTotal = await withStores(env, db, move, async (source, target) => {
    await target.registerTenant(move.tenantId);
    const counts = await Promise.all(datasetsIn("shard").map((dataset) => source.countRows(dataset, move.tenantId)));
    return counts.reduce((sum, rows) => sum + rows, 0);
  });
  return { change: { state: "copying", rowsTotal, copyCursor: null, rowsCopied: 0 }, next: 0 };
}

async function copy(env: Env, db: ControlDb, move: TenantMove): Promise<StepOutcome> {
  const { moveBatchSize } = settings(env);
  const deadline = Date.now() + STEP_BUDGET_MS;
  return withStores(env, db, move, async (source, target) => {
    let position = positionOf(move.copyCursor);
    let copied = move.rowsCopied;
    while (Date.now() < deadline) {
      const batch = await copyBatch(source, target, move.tenantId, position, moveBatchSize);
      copied += batch.copied;
      if (batch.done) {
        return { change: { state: "syncing", copyCursor: positionText(position), rowsCopied: copied }, next: 0 };
      }
      position = batch.position;
    }
    return { change: { copyCursor: positionText(position), rowsCopied: copied }, next: 0 };
  });
}

async function catchUp(env: Env, db: ControlDb, move: TenantMove): Promise<StepOutcome> {
  const { moveBatchSize } = settings(env);
  const deadline = Date.now() + STEP_BUDGET_MS;
  return withStores(env, db, move, async (source, target) => {
    let copied = move.rowsCopied;
    while (Date.now() < deadline) {
      const pass = await syncDifferences(source, target, move.tenantId, moveBatchSize);
      copied += pass.copied;
      if (pass.copied + pass.removed <= QUIET_PASS_ROWS) {
        return { change: { state: "cutting-over", rowsCopied: copied }, next: 0 };
      }
    }
    return { change: { rowsCopied: copied }, next: 0 };
  });
}

async function cutOver(env: Env, db: ControlDb, move: TenantMove): Promise<StepOutcome> {
  const { moveBatchSize, shardTimeoutMs, moveCleanupDelaySeconds } = settings(env);
  const gate = gateOf(env, move.tenantId);
  // Draining waits as long as an admitted write can run: its request's own deadline, plus a margin.
  const drainMs = shardTimeoutMs + 1_000;
  const fence = await gate.raiseFence(move.id, drainMs + CUTOVER_MS, drainMs);
  if (!fence.raised) throw new Error("Another move's fence stands on the tenant");
  let switched = false;
  try {
    if (!fence.drained) throw new Error(`${fence.inFlight} data write(s) were still running; trying again`);
    const verified = await withStores(env, db, move, async (source, target) => {
      const last = await syncDifferences(source, target, move.tenantId, moveBatchSize);
      const check = await verifyCopies(source, target, move.tenantId, moveBatchSize);
      if (check.mismatches.length > 0) throw new MoveAborted(`Verification failed: ${check.mismatches.join("; ")}`);
      return { ...check.summary, copied: last.copied };
    });
    if (!(await gate.sealFence(move.id, SEALED_MS)))
      throw new Error("The fence lapsed before the switch; trying again");
    // The route and the move's state change in one transaction: the move is switched iff the tenant is.
    const now = Date.now();
    const [, moved] = await db.batch([
      placeOn(db, move.tenantId, move.targetShardId, move.sourceShardId, now),
      db
        .update(tenantMoves)
        .set({
          state: "cleaning-up",
          switchedAt: now,
          rowsCopied: move.rowsCopied + verified.copied,
          rowsVerified: verified.rows,
          checksum: verified.checksum,
          updatedAt: now,
        })
        .where(
          and(
            eq(tenantMoves.id, move.id),
            sql`exists (select 1 from ${tenants} where ${tenants.id} = ${move.tenantId} and ${tenants.shardId} = ${move.targetShardId})`,
          ),
        )
        .returning({ id: tenantMoves.id }),
    ]);
    if (moved.length === 0) throw new MoveAborted(`The tenant left ${move.sourceShardId} during the move`);
    switched = true;
  } finally {
    // Before the switch the old route is still right, so writes may resume there. Should the
    // switch's answer have been lost, the control database says whether it happened; if it cannot
    // say, the fence stays until it lapses or a retry settles it.
    if (!switched) {
      const tenant = await getTenant(db, move.tenantId).catch(() => null);
      if (tenant?.shardId === move.sourceShardId) await gate.liftFence(move.tenantId, move.id);
    }
  }
  routeCache(env).delete(move.tenantId);
  await liftOnTarget(env, move);
  return { change: {}, next: moveCleanupDelaySeconds };
}

/**
 * Lifts a switched move's fence, only once the gate's route names the target (until then writes
 * wait or get 503): the first write let through goes to the target. Idempotent.
 */
async function liftOnTarget(env: Env, move: TenantMove) {
  if (!(await gateOf(env, move.tenantId).liftFence(move.tenantId, move.id, move.targetShardId))) {
    throw new Error("The gate does not see the new route yet");
  }
}

async function cleanUp(env: Env, db: ControlDb, move: TenantMove): Promise<StepOutcome> {
  const { moveBatchSize, moveCleanupDelaySeconds } = settings(env);
  await liftOnTarget(env, move);
  const waited = Date.now() - (move.switchedAt ?? 0);
  const due = moveCleanupDelaySeconds * 1000 - waited;
  if (due > 0) return { change: {}, next: Math.ceil(due / 1000) };
  const tenant = await getTenant(db, move.tenantId);
  if (tenant.shardId === move.sourceShardId) throw new Error("The tenant's route still names the source shard");
  const deadline = Date.now() + STEP_BUDGET_MS;
  return withStores(env, db, move, async (source) => {
    while (Date.now() < deadline) {
      if ((await source.purgeTenant(move.tenantId, moveBatchSize)) === 0) {
        return { change: { state: "completed" }, next: null };
      }
    }
    return { change: {}, next: 0 };
  });
}

/** A failed step: try again later, or (before the switch) roll back for good. */
async function stepFailed(env: Env, db: ControlDb, move: TenantMove, token: string, error: unknown) {
  const reason = errorText(error instanceof Error ? error.message : error).slice(0, 500);
  const attempts = move.attempts + 1;
  // As stored, not as this step began: a switch may have committed although the step failed after.
  const stored = await db.query.tenantMoves.findFirst({ where: eq(tenantMoves.id, move.id) });
  if (stored?.leaseToken !== token) return leaseLost(move, "handling its failure");
  const switched = (stored?.switchedAt ?? move.switchedAt) !== null;
  console.warn(
    JSON.stringify({
      level: "warn",
      msg: "move step failed",
      move_id: move.id,
      state: move.state,
      attempts,
      error: reason,
    }),
  );
  if (!switched && (error instanceof MoveAborted || attempts >= MAX_ATTEMPTS)) {
    await rollBack(env, db, { ...move, attempts }, token, reason);
    await followPlan(env, db, move);
    return;
  }
  const now = Date.now();
  const backoffSeconds = retryDelaySeconds(settings(env).moveRetryDelaySeconds, attempts);
  if (
    !(await moveLeases.retryLater(db, move.id, token, { attempts, error: reason, delaySeconds: backoffSeconds }, now))
  ) {
    return leaseLost(move, "recording its failure");
  }
  await enqueue(env, moveStepMessage, { moveId: move.id, seq: move.stepSeq }, { delaySeconds: backoffSeconds });
}

/** Ends a move that never switched: writes flow again on the source, the target's copy goes. */
async function rollBack(env: Env, db: ControlDb, move: TenantMove, token: string, reason: string) {
  let detail = reason;
  try {
    await gateOf(env, move.tenantId).liftFence(move.tenantId, move.id);
    const { moveBatchSize } = settings(env);
    const tenant = await getTenant(db, move.tenantId);
    if (tenant.shardId !== move.targetShardId) {
      await withStores(env, db, move, async (_, target) => {
        const deadline = Date.now() + STEP_BUDGET_MS;
        while (Date.now() < deadline) if ((await target.purgeTenant(move.tenantId, moveBatchSize)) === 0) return;
        throw new Error("ran out of time");
      });
    }
  } catch (cleanup) {
    detail = `${reason} (the target's partial copy was not fully removed: ${String(cleanup)})`;
  }
  const now = Date.now();
  await db
    .update(tenantMoves)
    .set({
      state: "failed",
      error: detail.slice(0, 1000),
      attempts: move.attempts,
      leaseUntil: 0,
      leaseToken: null,
      updatedAt: now,
      finishedAt: now,
    })
    .where(holding(move.id, token));
}
