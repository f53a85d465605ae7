import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { controlDb } from "../../src/db/client";
import { SCHEDULE, scheduled } from "../../src/jobs/scheduled";
import { runMoveStep } from "../../src/moves/job";
import { holdLease, LEASE_MS, MAX_STALL_MS, OVERDUE_MS } from "../../src/moves/leases";
import { resumeStalledMoves } from "../../src/moves/service";
import { tenantMoves } from "../../src/moves/table";
import { adminKey } from "../helpers";
import { storedMove, strandedMove, waitForMove } from "./fixture";

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});
const db = controlDb(env);

describe("a move whose step stalls", () => {
  it("is held up 80 s at most: a step overdue by 20 s is resumed by the sweep that runs every minute", () => {
    expect(OVERDUE_MS).toBe(20_000);
    expect(LEASE_MS).toBe(20_000);
    expect(MAX_STALL_MS).toBe(80_000);
    expect(MAX_STALL_MS).toBeLessThan(90_000);
    expect(SCHEDULE.everyMinute.cron).toBe("* * * * *");
  });

  it("goes on from where it stopped when its message was lost, through the per-minute cron", {
    timeout: 30_000,
  }, async () => {
    // Its copy step was queued 25 s ago and never delivered (the queue lost it in a restart).
    const { tenant, move } = await strandedMove(admin, { state: "queued", nextStepAt: Date.now() - 25_000 });
    const ctx = createExecutionContext();
    await scheduled(createScheduledController({ cron: SCHEDULE.everyMinute.cron }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect((await storedMove(move.id)).nextStepAt).toBeGreaterThan(Date.now() - 5_000);
    const done = await waitForMove(admin, tenant.id, move.id);
    expect(done.state).toBe("completed");
  });

  it("waits for a step that is only late, not yet overdue", async () => {
    const { move } = await strandedMove(admin, { nextStepAt: Date.now() - OVERDUE_MS + 2_000 });
    expect(await resumeStalledMoves(db, env)).not.toContain(move.id);
  });

  it("leaves a slow step that holds its lease alone, and takes over once its consumer has died", async () => {
    const now = Date.now();
    // Running for ten minutes, still renewing: merely slow.
    const { move } = await strandedMove(admin, {
      state: "copying",
      nextStepAt: now - 10 * 60_000,
      leaseUntil: now + LEASE_MS,
      leaseToken: "running",
      stepSeq: 4,
    });
    expect(await resumeStalledMoves(db, env, now)).not.toContain(move.id);
    // The consumer died: no renewal came, and the lease ran out.
    expect(await resumeStalledMoves(db, env, now + LEASE_MS + 1)).toContain(move.id);
    // The sweep's message is due now; it does not send another before that one is overdue.
    expect(await resumeStalledMoves(db, env, now + LEASE_MS + 2)).not.toContain(move.id);
  });

  it("keeps a running step's lease alive by renewing it, and stops when the step ends", async () => {
    const { move } = await strandedMove(admin, { leaseToken: "mine", leaseUntil: Date.now() + 300 });
    const lease = holdLease(db, move.id, "mine", 300, 50);
    await scheduler.wait(1_000);
    expect((await storedMove(move.id)).leaseUntil).toBeGreaterThan(Date.now());
    expect(lease.lost()).toBe(false);
    lease.stop();
    await scheduler.wait(500);
    expect((await storedMove(move.id)).leaseUntil).toBeLessThan(Date.now());
  });

  it("notices when another claim took its move", async () => {
    const { move } = await strandedMove(admin, { leaseToken: "mine", leaseUntil: Date.now() + 1_000 });
    const lease = holdLease(db, move.id, "mine", 1_000, 50);
    await db.update(tenantMoves).set({ leaseToken: "theirs" }).where(eq(tenantMoves.id, move.id));
    await scheduler.wait(300);
    lease.stop();
    expect(lease.lost()).toBe(true);
    expect((await storedMove(move.id)).leaseToken).toBe("theirs");
  });

  it("drops a message of a step count already claimed, so a late original and the sweep's copy run once", async () => {
    const { tenant, move } = await strandedMove(admin, {
      state: "queued",
      stepSeq: 3,
      nextStepAt: Date.now() - 60_000,
    });
    await runMoveStep(env, move.id, 2);
    expect(await storedMove(move.id)).toMatchObject({ state: "queued", stepSeq: 3 });
    await runMoveStep(env, move.id, 3);
    expect(await storedMove(move.id)).toMatchObject({ state: "copying", stepSeq: 4 });
    // The same count again (the late original after the sweep's copy): nothing happens.
    await runMoveStep(env, move.id, 3);
    expect((await storedMove(move.id)).stepSeq).toBe(4);
    // Its own successor, queued with count 4, carries the move on.
    expect((await waitForMove(admin, tenant.id, move.id)).state).toBe("completed");
  });
});
