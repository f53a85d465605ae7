import { env } from "cloudflare:workers";
import { eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { resumeStalledArchives, runArchiveStep } from "../../src/archives/job";
import { objectKeyOf } from "../../src/archives/service";
import { type TenantArchive, tenantArchives } from "../../src/archives/table";
import { validateArchive } from "../../src/archives/validate";
import { checkpointKey } from "../../src/audit/checkpoints";
import { systemActor } from "../../src/auth/actor";
import { controlDb } from "../../src/db/client";
import { newId } from "../../src/http/ids";
import { JOB_OVERDUE_MS } from "../../src/jobs/lease";
import { tenantMoves } from "../../src/moves/table";
import { adminKey, call } from "../helpers";
import { tenantWithEntries as withEntries } from "./fixture";

// The archive job's steps run one by one (src/archives/job.ts): a try that dies part-way leaves
// nothing that looks like an archive, and the next try makes a whole one.

const db = controlDb(env);
let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

const tenantWithEntries = async (entries: number) => (await withEntries(admin, entries)).tenant;

/** An export's row as startArchive records it, but with no message queued: the test runs its steps. */
async function queuedExport(tenantId: string, overrides: Partial<TenantArchive> = {}): Promise<TenantArchive> {
  const id = newId("exp");
  const now = Date.now();
  const [row] = await db
    .insert(tenantArchives)
    .values({
      id,
      tenantId,
      kind: "export",
      state: "queued",
      objectKey: objectKeyOf("export", tenantId, id),
      requestedBy: systemActor("test"),
      createdAt: now,
      updatedAt: now,
      nextStepAt: now,
      ...overrides,
    })
    .returning();
  return row as TenantArchive;
}

const stored = async (id: string) =>
  (await db.query.tenantArchives.findFirst({ where: eq(tenantArchives.id, id) })) as TenantArchive;

/**
 * Makes the message a step queued stale (so the queue's consumer drops it) and returns the step
 * count the test's own next call must name.
 */
async function takeOver(id: string): Promise<number> {
  const [row] = await db
    .update(tenantArchives)
    .set({ stepSeq: sql`${tenantArchives.stepSeq} + 1` })
    .where(eq(tenantArchives.id, id))
    .returning({ stepSeq: tenantArchives.stepSeq });
  return row?.stepSeq as number;
}

/** Every object of the archive in the bucket (each try writes its own). */
const objectsOf = async (archive: TenantArchive) =>
  (await env.ARCHIVES.list({ prefix: `exports/${archive.tenantId}/${archive.id}` })).objects.map((o) => o.key);

const validate = (archive: TenantArchive) =>
  validateArchive(env.ARCHIVES, archive.objectKey, {
    tenantId: archive.tenantId,
    manifestSha256: archive.manifestSha256,
    checkpointKey: checkpointKey(env),
  });

describe("an archive step", () => {
  it("that dies part-way leaves no object and no completed state; the retry makes a valid archive", async () => {
    const tenant = await tenantWithEntries(30);
    const archive = await queuedExport(tenant.id);
    let seen = 0;
    await runArchiveStep(env, archive.id, 0, {
      progress: (rows) => {
        seen = rows;
        if (rows >= 20) throw new Error("the consumer died here");
      },
    });
    expect(seen).toBeGreaterThanOrEqual(20);
    const seq = await takeOver(archive.id);
    const failed = await stored(archive.id);
    expect(failed).toMatchObject({ state: "writing", attempts: 1, error: "the consumer died here", completedAt: null });
    expect(await objectsOf(archive)).toEqual([]);
    const view = await call(`/v1/tenants/${tenant.id}/exports/${archive.id}`, { key: admin });
    expect(view.json).toMatchObject({ state: "writing", download: null, error: "the consumer died here" });

    await runArchiveStep(env, archive.id, seq);
    const written = await stored(archive.id);
    // The failure still counts (over the whole archive) until it completes.
    expect(written).toMatchObject({ state: "verifying", attempts: 1, error: null });
    // Written, but not offered until read back and checked.
    expect((await call(`/v1/tenants/${tenant.id}/exports/${archive.id}`, { key: admin })).json.download).toBeNull();
    await runArchiveStep(env, archive.id, await takeOver(archive.id));
    const done = await stored(archive.id);
    expect(done.state).toBe("completed");
    expect(await validate(done)).toMatchObject({ ok: true });
    expect(done.rows).toBeGreaterThan(30);
    expect(await objectsOf(archive)).toEqual([done.objectKey]);
  });

  it("that finds the archive changed when reading it back writes it again", async () => {
    const tenant = await tenantWithEntries(5);
    const archive = await queuedExport(tenant.id);
    await runArchiveStep(env, archive.id, 0);
    const seq = await takeOver(archive.id);
    const { objectKey } = await stored(archive.id);
    const object = (await env.ARCHIVES.get(objectKey)) as R2ObjectBody;
    const bytes = new Uint8Array(await object.arrayBuffer());
    bytes[120] = (bytes[120] as number) ^ 0xff;
    await env.ARCHIVES.put(objectKey, bytes);
    await runArchiveStep(env, archive.id, seq);
    expect(await stored(archive.id)).toMatchObject({ state: "queued", attempts: 1 });
    // The rewrite keeps the count: read-backs that keep failing end the archive, they never loop.
    await runArchiveStep(env, archive.id, await takeOver(archive.id));
    expect(await stored(archive.id)).toMatchObject({ state: "verifying", attempts: 1 });
    await runArchiveStep(env, archive.id, await takeOver(archive.id));
    const done = await stored(archive.id);
    expect(done).toMatchObject({ state: "completed", attempts: 0 });
    expect(await validate(done)).toMatchObject({ ok: true });
    // The corrupt try's object is gone; only the one that counts is left.
    expect(await objectsOf(archive)).toEqual([done.objectKey]);
  });

  it("writes again when the tenant's shard was switched while it read", async () => {
    const tenant = await tenantWithEntries(3);
    const archive = await queuedExport(tenant.id);
    let moved = false;
    await runArchiveStep(env, archive.id, 0, {
      progress: async () => {
        if (moved) return;
        moved = true;
        const now = Date.now();
        await db.insert(tenantMoves).values({
          id: newId("mov"),
          tenantId: tenant.id,
          sourceShardId: tenant.shard_id as string,
          targetShardId: tenant.shard_id as string,
          state: "completed",
          createdAt: now,
          updatedAt: now,
          switchedAt: now,
          finishedAt: now,
        });
      },
    });
    await takeOver(archive.id);
    expect(await stored(archive.id)).toMatchObject({
      state: "writing",
      attempts: 1,
      error: expect.stringMatching(/moved to another shard/),
    });
    expect(await objectsOf(archive)).toEqual([]);
  });

  it("gives up after five failed tries: failed, export.failed announced, no object", async () => {
    const tenant = await tenantWithEntries(1);
    const archive = await queuedExport(tenant.id, { attempts: 4 });
    await runArchiveStep(env, archive.id, 0, {
      progress: () => {
        throw new Error("still failing");
      },
    });
    expect(await stored(archive.id)).toMatchObject({ state: "failed", attempts: 5, error: "still failing" });
    expect(await objectsOf(archive)).toEqual([]);
    const outbox = await env.CONTROL_DB.prepare(
      "SELECT payload FROM outbox WHERE tenant_id = ? AND json_extract(payload, '$.type') = 'export.failed'",
    )
      .bind(tenant.id)
      .all();
    const events = await call(`/v1/tenants/${tenant.id}/events?limit=100`, { key: admin });
    const announced =
      outbox.results.length + events.json.data.filter((e: { type: string }) => e.type === "export.failed").length;
    expect(announced).toBe(1);
  });

  it("that lost its lease meanwhile stops, records nothing and leaves no object", async () => {
    const tenant = await tenantWithEntries(20);
    const archive = await queuedExport(tenant.id);
    let stolen = false;
    const run = runArchiveStep(env, archive.id, 0, {
      progress: async () => {
        if (stolen) return;
        stolen = true;
        // Another consumer's claim: the lease renewal finds the token changed.
        await db.update(tenantArchives).set({ leaseToken: "theirs" }).where(eq(tenantArchives.id, archive.id));
      },
    });
    await run;
    const after = await stored(archive.id);
    expect(after).toMatchObject({ leaseToken: "theirs", rows: null, manifestSha256: null });
    expect(await objectsOf(archive)).toEqual([]);
  }, 30_000);

  it("drops a message of a step count already claimed", async () => {
    const tenant = await tenantWithEntries(1);
    const archive = await queuedExport(tenant.id, { stepSeq: 3 });
    await runArchiveStep(env, archive.id, 2);
    expect(await stored(archive.id)).toMatchObject({ state: "queued", stepSeq: 3 });
  });
});

describe("the per-minute sweep", () => {
  it("queues again an archive whose consumer died holding it, once its lease lapsed", async () => {
    const tenant = await tenantWithEntries(2);
    const past = Date.now() - JOB_OVERDUE_MS - 1_000;
    const archive = await queuedExport(tenant.id, {
      state: "writing",
      leaseToken: "dead",
      leaseUntil: Date.now() - 1,
      nextStepAt: past,
    });
    const held = await queuedExport((await tenantWithEntries(1)).id, {
      leaseToken: "alive",
      leaseUntil: Date.now() + 60_000,
      nextStepAt: past,
    });
    const resumed = await resumeStalledArchives(db, env);
    expect(resumed).toContain(archive.id);
    expect(resumed).not.toContain(held.id);
    const deadline = Date.now() + 20_000;
    while ((await stored(archive.id)).state !== "completed") {
      if (Date.now() > deadline) throw new Error(`still ${(await stored(archive.id)).state}`);
      await scheduler.wait(50);
    }
    expect(await validate(await stored(archive.id))).toMatchObject({ ok: true });
  });
});
