import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { tenantArchives } from "../../src/archives/table";
import { datasetsIn } from "../../src/datasets/registry";
import { controlDb } from "../../src/db/client";
import { domainEvents } from "../../src/events/listeners";
import { runFanOutPage } from "../../src/jobs/fan-out";
import { dueArchivals, hibernate } from "../../src/lifecycle/archival";
import { openStore } from "../../src/shards/connection";
import { getShard } from "../../src/shards/service";
import { tenants } from "../../src/tenants/table";
import { tenantWithEntries, waitForArchive } from "../archives/fixture";
import { adminKey, call, createTenant, expectProblem, listAll, settled } from "../helpers";

// Hibernation: the daily archival picks exactly the trial tenants nobody has used for 90 days,
// archives them to R2 and drops their shard data; rehydration brings one back, checked.

const DAY = 86_400_000;
const db = controlDb(env);
let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

const ours = (ids: string[], among: string[]) => ids.filter((id) => among.includes(id));

async function waitFor<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)}`);
    await scheduler.wait(50);
  }
}

const tenantRow = (id: string) => db.query.tenants.findFirst({ where: eq(tenants.id, id) });

/** Every shard dataset's rows of the tenant on the shard, by dataset. */
async function shardRows(shardId: string, tenantId: string) {
  const store = await openStore(env, await getShard(db, shardId));
  try {
    const counts: Record<string, number> = {};
    for (const dataset of datasetsIn("shard")) counts[dataset.name] = await store.countRows(dataset, tenantId);
    return counts;
  } finally {
    await store.close();
  }
}

describe("the daily archival", () => {
  it("picks exactly the trial tenants whose trial ended and that nobody used for 90 days", async () => {
    const now = Date.now();
    const at = now + 91 * DAY;
    const make = (overrides: Record<string, unknown>) => createTenant(admin, overrides);
    const ended = new Date(now + DAY).toISOString();
    const idle = await make({ trial_ends_at: ended });
    const usedLately = await make({ trial_ends_at: ended });
    const stillInTrial = await make({ trial_ends_at: new Date(now + 100 * DAY).toISOString() });
    const noTrial = await make({});
    const suspended = await make({ trial_ends_at: ended });
    const usedLongAgo = await make({ trial_ends_at: ended });
    await db
      .update(tenants)
      .set({ lastActiveAt: now + 85 * DAY })
      .where(eq(tenants.id, usedLately.id));
    await db
      .update(tenants)
      .set({ lastActiveAt: now - 5 * DAY })
      .where(eq(tenants.id, usedLongAgo.id));
    await db.update(tenants).set({ status: "SUSPENDED" }).where(eq(tenants.id, suspended.id));
    const all = [idle, usedLately, stillInTrial, noTrial, suspended, usedLongAgo].map((t) => t.id);
    expect(ours(await dueArchivals.due(db, null, 100, at, env), all).sort()).toEqual([idle.id, usedLongAgo.id].sort());
    // At 89 days only the one last used 94 days before is due.
    expect(ours(await dueArchivals.due(db, null, 100, now + 89 * DAY, env), all)).toEqual([usedLongAgo.id]);
  });

  it("records a key's admitted request as the tenant's activity", async () => {
    const { tenant, key } = await tenantWithEntries(admin, 1);
    const row = await waitFor(
      "last_active_at",
      () => tenantRow(tenant.id),
      (t) => t?.lastActiveAt !== null,
    );
    expect(row?.lastActiveAt).toBeGreaterThan(Date.now() - 60_000);
    expect((await call(`/v1/tenants/${tenant.id}`, { key: key.secret })).json.last_active_at).toBe(
      new Date(row?.lastActiveAt as number).toISOString(),
    );
  });
});

describe.each([
  ["d1-shared-1", "pg-0"],
  ["pg-0", "d1-shared-1"],
])("a tenant archived from %s and rehydrated onto %s", (from, to) => {
  it("is archived by the run, answers 409 while archived, and comes back equal, checked", async () => {
    const { tenant, key } = await tenantWithEntries(admin, 4, {
      shard_id: from,
      trial_ends_at: new Date(Date.now() + 1_000).toISOString(),
    });
    await call(`/v1/tenants/${tenant.id}/entries`, {
      method: "POST",
      key: key.secret,
      body: { data: { tagged: true }, tags: ["x"] },
    });
    await settled(tenant.id);
    const entriesBefore = (await listAll(`/v1/tenants/${tenant.id}/entries`, admin)).items;
    const feedBefore = (await call(`/v1/tenants/${tenant.id}/events?limit=100`, { key: admin })).json.data;
    const rowsBefore = await shardRows(from, tenant.id);
    await db
      .update(tenants)
      .set({ lastActiveAt: Date.now() - 91 * DAY })
      .where(eq(tenants.id, tenant.id));

    // The 02:00 run, at a moment past the trial: a page of the fan-out queues the tenant's message.
    const at = Date.now() + 2_000;
    await runFanOutPage(env, db, dueArchivals, { after: tenant.id.slice(0, -1), at });
    const archived = await waitFor(
      "archival",
      () => tenantRow(tenant.id),
      (t) => t?.status === "ARCHIVED" && t.shardId === null,
    );
    expect(archived?.archivedAt).not.toBeNull();
    for (const [dataset, rows] of Object.entries(await shardRows(from, tenant.id))) {
      expect(rows, `${dataset} left on ${from}`).toBe(0);
    }
    const archive = await db.query.tenantArchives.findFirst({
      where: eq(tenantArchives.tenantId, tenant.id),
    });
    expect(archive).toMatchObject({ kind: "archive", state: "completed" });
    // The run's message delivered again finds the tenant archived: no second archive.
    expect(await hibernate(db, domainEvents(env), env, tenant.id, at)).toBe(false);
    const archives = await db.query.tenantArchives.findMany({ where: eq(tenantArchives.tenantId, tenant.id) });
    expect(archives).toHaveLength(1);
    expect(await env.ARCHIVES.head(archive?.objectKey as string)).not.toBeNull();

    const refused = await call(`/v1/tenants/${tenant.id}/entries`, { key: key.secret });
    expectProblem(refused, 409, "tenant-archived");
    expect(refused.json.rehydrate).toEqual({ method: "POST", path: `/v1/tenants/${tenant.id}/rehydrate` });
    expectProblem(
      await call(`/v1/tenants/${tenant.id}/exports`, { method: "POST", key: admin }),
      409,
      "tenant-archived",
    );
    expect((await call(`/v1/tenants/${tenant.id}`, { key: key.secret })).json.status).toBe("ARCHIVED");

    // The tenant's own admin key may bring it back; choosing the shard is the platform admin's.
    expectProblem(
      await call(`/v1/tenants/${tenant.id}/rehydrate`, { method: "POST", key: key.secret, body: { shard_id: to } }),
      403,
      "forbidden",
    );
    const res = await call(`/v1/tenants/${tenant.id}/rehydrate`, {
      method: "POST",
      key: admin,
      body: { shard_id: to },
    });
    expect(res.status, res.text).toBe(202);
    const done = await waitForArchive<{ state: string; kind: string; error: string | null }>(
      `/v1/tenants/${tenant.id}/restores/${res.json.restore.id}`,
      admin,
      30_000,
    );
    expect(done, JSON.stringify(done)).toMatchObject({ kind: "rehydrate", state: "completed" });
    const back = await tenantRow(tenant.id);
    expect(back).toMatchObject({ status: "ACTIVE", shardId: to, archivedAt: null });
    // Every shard dataset is back, row for row, and the archive has gone. The events of the
    // archival and the rehydration, held in the outbox meanwhile, follow on the new shard.
    await settled(tenant.id);
    const rowsAfter = await shardRows(to, tenant.id);
    const feedAfter = (await call(`/v1/tenants/${tenant.id}/events?limit=100`, { key: admin })).json.data;
    const since = feedAfter.slice(feedBefore.length).map((event: { type: string }) => event.type);
    expect(since).toEqual(["tenant.archived", "restore.completed"]);
    // Each of those two events is audited, and so is the rehydration's request.
    expect(rowsAfter).toEqual({
      ...rowsBefore,
      events: (rowsBefore.events ?? 0) + 2,
      "audit-events": (rowsBefore["audit-events"] ?? 0) + 3,
    });
    expect(await env.ARCHIVES.head(archive?.objectKey as string)).toBeNull();
    expect((await listAll(`/v1/tenants/${tenant.id}/entries`, key.secret)).items).toEqual(entriesBefore);
    expect(feedAfter.slice(0, feedBefore.length)).toEqual(feedBefore);
    const tagged = await call(`/v1/tenants/${tenant.id}/entries?tag=x`, { key: key.secret });
    expect(tagged.json.data).toHaveLength(1);
    // It writes again.
    const wrote = await call(`/v1/tenants/${tenant.id}/entries`, {
      method: "POST",
      key: key.secret,
      body: { data: {} },
    });
    expect(wrote.status, wrote.text).toBe(201);
  });
});

describe("an archival message run again", () => {
  it("asks for the archive a first run that died after the status change never asked for", async () => {
    const { tenant } = await tenantWithEntries(admin, 2, { trial_ends_at: new Date(Date.now() + 1_000).toISOString() });
    await settled(tenant.id);
    // The first run made it ARCHIVED and died before asking for its archive.
    await db.update(tenants).set({ status: "ARCHIVED", archivedAt: Date.now() }).where(eq(tenants.id, tenant.id));
    expect(await hibernate(db, domainEvents(env), env, tenant.id, Date.now())).toBe(true);
    const archived = await waitFor(
      "archival",
      () => tenantRow(tenant.id),
      (t) => t?.shardId === null,
    );
    expect(archived?.status).toBe("ARCHIVED");
    const archive = await db.query.tenantArchives.findFirst({ where: eq(tenantArchives.tenantId, tenant.id) });
    expect(archive).toMatchObject({ kind: "archive", state: "completed" });
  });
});

describe("rehydrating", () => {
  it("a tenant whose archive never finished brings it back at once; one not archived is 409", async () => {
    const tenant = await createTenant(admin);
    await db.update(tenants).set({ status: "ARCHIVED" }).where(eq(tenants.id, tenant.id));
    const res = await call(`/v1/tenants/${tenant.id}/rehydrate`, { method: "POST", key: admin });
    expect(res.status, res.text).toBe(202);
    expect(res.json).toMatchObject({ restore: null, tenant: { status: "ACTIVE" } });
    expectProblem(await call(`/v1/tenants/${tenant.id}/rehydrate`, { method: "POST", key: admin }), 409, "conflict");
  });
});
