import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { ARCHIVE_KINDS } from "../../src/archives/format";
import { platformAuditEvents } from "../../src/audit/table";
import { controlRows } from "../../src/datasets/control";
import { exportGate } from "../../src/datasets/gate";
import { DATASETS } from "../../src/datasets/registry";
import { controlDb } from "../../src/db/client";
import { storeDeadLetter } from "../../src/dead-letters/service";
import { entryData } from "../../src/entries/dataset";
import { outbox } from "../../src/events/outbox-table";
import { reportCircuit } from "../../src/gate/circuit-report";
import { quotaPeriod } from "../../src/gate/quota-period";
import { newId } from "../../src/http/ids";
import { SCHEDULE, scheduled } from "../../src/jobs/scheduled";
import { duePurges, purgeTenantPass } from "../../src/lifecycle/purge";
import { storeSlowQueries } from "../../src/metrics/slow-queries";
import { quotaTrips } from "../../src/quotas/table";
import { tenantRestores } from "../../src/restores/table";
import { openStore } from "../../src/shards/connection";
import { getShard, listShards } from "../../src/shards/service";
import { tenants } from "../../src/tenants/table";
import { METERS } from "../../src/usage/record";
import { aggregateDay, dayOf } from "../../src/usage/store";
import { storedFlagOverride } from "../flags/fixture";
import { adminKey, call, createTenant, expectProblem, settled, tenantKey } from "../helpers";
import { startMove, waitForMove } from "../moves/fixture";
import { backedUpAndRestored } from "../restores/fixture";
import { storedStreamTicket } from "../stream/fixture";
import { keepSent, usageSettled } from "../usage/fixture";
import { storedWebhookRows } from "../webhooks/fixture";

// DELETE /v1/tenants/:id, POST …/restore and the purge: soft deletion with a grace period, then
// every dataset of the registry emptied of the tenant.

const db = controlDb(env);
const DAY = 86_400_000;
let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

/** A tenant with rows in every dataset: users, keys, entries, a finished move and an export. */
async function populatedTenant() {
  const tenant = await createTenant(admin, { shard_id: "d1-shared-0" });
  const key = await tenantKey(admin, tenant.id);
  await keepSent(tenant.id);
  await call(`/v1/tenants/${tenant.id}/users`, {
    method: "POST",
    key: admin,
    body: { email: `${newId("usr").toLowerCase()}@example.com`, name: "Grace" },
  });
  await call(`/v1/tenants/${tenant.id}/keys`, {
    method: "POST",
    key: key.secret,
    body: { name: "minted", scopes: ["entries:read"] },
    headers: { "Idempotency-Key": newId("key") },
  });
  for (let i = 0; i < 5; i++) {
    const res = await call(`/v1/tenants/${tenant.id}/entries`, {
      method: "POST",
      key: key.secret,
      body: { data: { i }, tags: ["kept"] },
    });
    expect(res.status, res.text).toBe(201);
  }
  const move = await startMove(admin, tenant.id, "d1-shared-1");
  expect((await waitForMove(admin, tenant.id, move.id)).state).toBe("completed");
  const started = await call(`/v1/tenants/${tenant.id}/exports`, { method: "POST", key: key.secret });
  expect(started.status).toBe(202);
  for (let i = 0; ; i++) {
    const state = await call(`/v1/tenants/${tenant.id}/exports/${started.json.id}`, { key: key.secret });
    if (state.json.state === "completed") break;
    if (i > 400) throw new Error(`export not completed: ${state.text}`);
    await scheduler.wait(25);
  }
  await backedUpAndRestored(admin, tenant.id);
  await settled(tenant.id);
  // Its keys' requests are in its metrics and usage once its gate has sent them; today so far is
  // aggregated as a day. Its slow calls, quota trips and circuits as their writers leave them.
  await usageSettled(tenant.id);
  await aggregateDay(db, tenant.id, dayOf(Date.now()), METERS);
  const now = Date.now();
  await storeSlowQueries(db, tenant.id, [
    { id: newId("slq"), shardId: "d1-shared-1", at: now, name: "entries.list", ms: 700, failed: 0, route: null },
  ]);
  const period = quotaPeriod(now).id;
  await db.insert(quotaTrips).values({
    id: `${tenant.id}:entries:${period}`,
    tenantId: tenant.id,
    quota: "entries",
    period,
    limit: 5,
    trippedAt: now,
  });
  await reportCircuit(db, tenant.id, "shard", "open", now);
  await storedFlagOverride(tenant.id);
  await storedWebhookRows(tenant.id);
  await storedStreamTicket(tenant.id);
  return { tenant, key };
}

/** Every row of the tenant anywhere the registry says tenant data lives, per dataset, and its objects. */
async function whatIsLeft(tenantId: string) {
  const left: Record<string, number> = {};
  const shards = (await listShards(db)).filter((shard) => shard.binding !== "SHARD_PG_DOWN");
  for (const dataset of DATASETS) {
    if (dataset.home === "gate") {
      const state = await exportGate(env, tenantId);
      left[dataset.name] = Object.values(state).reduce((sum, rows) => sum + rows.length, 0);
    } else if (dataset.home === "control") {
      left[dataset.name] = (await controlRows(db, dataset, tenantId, null, 1000)).length;
    } else {
      let rows = 0;
      for (const shard of shards) {
        const store = await openStore(env, shard).catch(() => null);
        if (!store) continue;
        try {
          rows += await store.countRows(dataset, tenantId);
        } finally {
          await store.close();
        }
      }
      left[dataset.name] = rows;
    }
  }
  let objects = 0;
  for (const kind of ARCHIVE_KINDS)
    objects += (await env.ARCHIVES.list({ prefix: `${kind}s/${tenantId}/` })).objects.length;
  left.objects = objects;
  return left;
}

const nothing = () => Object.fromEntries([...DATASETS.map((d) => [d.name, 0]), ["objects", 0]]);

describe("soft deletion", () => {
  it("refuses the tenant's keys at once, answers its platform admin 410 with the purge date, and restores", async () => {
    const tenant = await createTenant(admin);
    const key = await tenantKey(admin, tenant.id);
    const entry = await call(`/v1/tenants/${tenant.id}/entries`, {
      method: "POST",
      key: key.secret,
      body: { data: {} },
    });
    const before = Date.now();
    const res = await call(`/v1/tenants/${tenant.id}`, { method: "DELETE", key: key.secret });
    expect(res.status, res.text).toBe(202);
    expect(res.json.status).toBe("DELETED");
    const deletedAt = Date.parse(res.json.deleted_at);
    expect(deletedAt).toBeGreaterThanOrEqual(before);
    expect(Date.parse(res.json.purge_after) - deletedAt).toBe(30 * DAY);

    expectProblem(await call(`/v1/tenants/${tenant.id}/entries`, { key: key.secret }), 401, "invalid-api-key");
    const gone = await call(`/v1/tenants/${tenant.id}/entries/${entry.json.id}`, { key: admin });
    expectProblem(gone, 410, "tenant-deleted");
    expect(gone.json.purge_after).toBe(res.json.purge_after);
    expectProblem(await call(`/v1/tenants/${tenant.id}`, { key: admin }), 410, "tenant-deleted");
    expectProblem(await call(`/v1/tenants/${tenant.id}`, { method: "DELETE", key: admin }), 409, "conflict");
    const listed = await call("/v1/tenants?status=DELETED&limit=100", { key: admin });
    expect(listed.json.data.map((t: { id: string }) => t.id)).toContain(tenant.id);

    const restored = await call(`/v1/tenants/${tenant.id}/restore`, { method: "POST", key: admin });
    expect(restored.status, restored.text).toBe(200);
    expect(restored.json).toMatchObject({ status: "ACTIVE", deleted_at: null, purge_after: null });
    const back = await call(`/v1/tenants/${tenant.id}/entries/${entry.json.id}`, { key: key.secret });
    expect(back.status).toBe(200);
    expectProblem(await call(`/v1/tenants/${tenant.id}/restore`, { method: "POST", key: admin }), 409, "conflict");
  });

  it("restores a suspended tenant as suspended", async () => {
    const tenant = await createTenant(admin);
    await call(`/v1/tenants/${tenant.id}`, { method: "PATCH", key: admin, body: { status: "SUSPENDED" } });
    expect((await call(`/v1/tenants/${tenant.id}`, { method: "DELETE", key: admin })).status).toBe(202);
    const restored = await call(`/v1/tenants/${tenant.id}/restore`, { method: "POST", key: admin });
    expect(restored.json.status).toBe("SUSPENDED");
  });

  it("announces tenant.deleted and tenant.restored, and leaves platform-trail records naming only the tenant", async () => {
    const tenant = await createTenant(admin);
    await call(`/v1/tenants/${tenant.id}`, { method: "DELETE", key: admin });
    await call(`/v1/tenants/${tenant.id}/restore`, { method: "POST", key: admin });
    await settled(tenant.id);
    const events = await call(`/v1/tenants/${tenant.id}/events?limit=100`, { key: admin });
    const types = events.json.data.map((e: { type: string }) => e.type);
    expect(types.filter((t: string) => t.startsWith("tenant.")).slice(-2)).toEqual([
      "tenant.deleted",
      "tenant.restored",
    ]);
    const records = (await db.select().from(platformAuditEvents)).filter(
      (r) => r.targets.some((t) => t.id === tenant.id) && r.action !== "tenant.created",
    );
    expect(records.map((r) => r.action)).toEqual(["tenant.deleted", "tenant.restored"]);
    for (const record of records) {
      expect(record.targets).toEqual([{ type: "tenant", id: tenant.id }]);
      expect(record.context).toMatchObject({ ip: null, user_agent: null, country: null });
    }
  });

  it("refuses a key without tenant:admin, hard deletion by a tenant key, and restoration by anyone but a platform admin", async () => {
    const tenant = await createTenant(admin);
    const reader = await tenantKey(admin, tenant.id, ["entries:read"]);
    const owner = await tenantKey(admin, tenant.id);
    const other = await createTenant(admin);
    expectProblem(
      await call(`/v1/tenants/${tenant.id}`, { method: "DELETE", key: reader.secret }),
      403,
      "insufficient-scope",
    );
    expectProblem(
      await call(`/v1/tenants/${tenant.id}?hard=true`, { method: "DELETE", key: owner.secret }),
      403,
      "forbidden",
    );
    expectProblem(await call(`/v1/tenants/${other.id}`, { method: "DELETE", key: owner.secret }), 404, "not-found");
    expectProblem(
      await call(`/v1/tenants/${tenant.id}?hard=maybe`, { method: "DELETE", key: admin }),
      400,
      "validation-error",
    );
    expectProblem(
      await call(`/v1/tenants/${tenant.id}/restore`, { method: "POST", key: owner.secret }),
      403,
      "forbidden",
    );
    expectProblem(await call(`/v1/tenants/${newId("ten")}`, { method: "DELETE", key: admin }), 404, "not-found");
    expectProblem(await call(`/v1/tenants/${newId("ten")}/restore`, { method: "POST", key: admin }), 404, "not-found");
    expect((await call(`/v1/tenants/${other.id}`, { key: admin })).json.status).toBe("ACTIVE");
  });

  it("cannot be undone once the purge has begun", async () => {
    const tenant = await createTenant(admin);
    await call(`/v1/tenants/${tenant.id}`, { method: "DELETE", key: admin });
    await db.update(tenants).set({ purgeStartedAt: Date.now() }).where(eq(tenants.id, tenant.id));
    const res = await call(`/v1/tenants/${tenant.id}/restore`, { method: "POST", key: admin });
    expectProblem(res, 409, "conflict");
    expect(res.json.detail).toMatch(/purge has begun/);
  });
});

describe("the purge", () => {
  it("waits out the grace: not on day 29, on day 31, and then no dataset holds a row of the tenant", async () => {
    const { tenant } = await populatedTenant();
    const deleted = await call(`/v1/tenants/${tenant.id}`, { method: "DELETE", key: admin });
    const deletedAt = Date.parse(deleted.json.deleted_at);
    await settled(tenant.id);
    // A row still owed to the shard (the relay between passes), as a purge may find one.
    await db
      .insert(outbox)
      .values({ tenantId: tenant.id, kind: "event", payload: { type: "tenant.updated" }, createdAt: Date.now() });
    // And an event of the tenant's that its queue gave up on.
    await storeDeadLetter(db, crypto.randomUUID(), {
      id: "evt_x",
      tenant_id: tenant.id,
      seq: 1,
      type: "entry.created",
    });
    // A failed restore's staging copy left on its shard, as a crash in its clean-up would leave it.
    const restore = await db.query.tenantRestores.findFirst({ where: eq(tenantRestores.tenantId, tenant.id) });
    const stagingId = restore?.stagingId as string;
    const stagingShard = await openStore(env, await getShard(db, restore?.targetShardId as string));
    try {
      await stagingShard.registerTenant(stagingId);
      const [entry] = await stagingShard.rows(entryData, tenant.id, null, 1);
      await stagingShard.importRows(entryData, stagingId, [entry as Record<string, unknown>]);
      expect(await stagingShard.countRows(entryData, stagingId)).toBe(1);
    } finally {
      await stagingShard.close();
    }
    const before = await whatIsLeft(tenant.id);
    for (const [name, rows] of Object.entries(before)) expect(rows, `${name} before the purge`).toBeGreaterThan(0);

    const day29 = deletedAt + 29 * DAY;
    expect(await duePurges.due(db, null, 100, day29, env)).not.toContain(tenant.id);
    expect(await purgeTenantPass(env, tenant.id, day29)).toBe("not-due");
    expect(await whatIsLeft(tenant.id)).toEqual(before);

    const day31 = deletedAt + 31 * DAY;
    expect(await duePurges.due(db, null, 100, day31, env)).toContain(tenant.id);
    expect(await purgeTenantPass(env, tenant.id, day31)).toBe("purged");
    expect(await whatIsLeft(tenant.id)).toEqual(nothing());
    expectProblem(await call(`/v1/tenants/${tenant.id}`, { key: admin }), 404, "not-found");
    const staged = await openStore(env, await getShard(db, restore?.targetShardId as string));
    try {
      expect(await staged.storageOf(stagingId)).toBeNull();
    } finally {
      await staged.close();
    }

    // What stays: the platform trail's records that it was deleted and purged, naming only its id.
    const records = (await db.select().from(platformAuditEvents)).filter((r) =>
      r.targets.some((t) => t.id === tenant.id),
    );
    expect(records.map((r) => r.action)).toEqual(["tenant.created", "tenant.deleted", "tenant.purged"]);
    expect(records[2]?.context.deleted_at).toBe(deleted.json.deleted_at);
    // Run again (a duplicate message), it finds nothing to do and records nothing more.
    expect(await purgeTenantPass(env, tenant.id, day31)).toBe("not-due");
  });

  it("purges at once with ?hard=true, through the queue", async () => {
    const { tenant } = await populatedTenant();
    const res = await call(`/v1/tenants/${tenant.id}?hard=true`, { method: "DELETE", key: admin });
    expect(res.status, res.text).toBe(202);
    const deadline = Date.now() + 20_000;
    while ((await db.query.tenants.findFirst({ where: eq(tenants.id, tenant.id) })) !== undefined) {
      if (Date.now() > deadline) throw new Error("the tenant was never purged");
      await scheduler.wait(50);
    }
    expect(await whatIsLeft(tenant.id)).toEqual(nothing());
  });

  it("is started by the daily cron, which queues one page of tenants per message", async () => {
    // 230 deleted tenants past their grace, never provisioned (no shard): three pages.
    const now = Date.now();
    const ids = Array.from({ length: 230 }, () => newId("ten"));
    for (let i = 0; i < ids.length; i += 10) {
      await db.insert(tenants).values(
        ids.slice(i, i + 10).map((id) => ({
          id,
          slug: id.toLowerCase(),
          name: "Gone",
          tier: "FREE",
          status: "DELETED" as const,
          deletedAt: now - 31 * DAY,
          purgeAfter: now - DAY,
          createdAt: now - 40 * DAY,
          updatedAt: now - 31 * DAY,
        })),
      );
    }
    const ctx = createExecutionContext();
    await scheduled(createScheduledController({ cron: SCHEDULE.retention.cron, scheduledTime: now }), env, ctx);
    await waitOnExecutionContext(ctx);
    // A stuck fan-out, not speed, is what the deadline catches: 230 purges walking every dataset
    // take most of a minute alone here, longer beside another test file on two cores.
    const deadline = Date.now() + 150_000;
    for (;;) {
      const left = (await db.select({ id: tenants.id }).from(tenants).where(eq(tenants.name, "Gone"))).filter((t) =>
        ids.includes(t.id),
      );
      if (left.length === 0) break;
      if (Date.now() > deadline) throw new Error(`${left.length} tenants were never purged`);
      await scheduler.wait(100);
    }
  }, 180_000);
});
