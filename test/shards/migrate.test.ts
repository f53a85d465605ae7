import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { travel } from "../gate/fixture";
import { adminKey, call, createTenant, expectProblem, tenantKey } from "../helpers";

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
  // A second registry row for the PostgreSQL shard, so this file can break it without touching
  // pg-0; and a D1 shard whose database no migration has touched yet (vitest.config.ts).
  await env.CONTROL_DB.exec(
    "INSERT INTO shards (id, engine, binding, region, dedicated, status, created_at) VALUES ('pg-1', 'postgres', 'SHARD_PG_0', 'test', 0, 'active', 0), ('d1-fresh', 'd1', 'SHARD_D1_FRESH', 'fresh', 0, 'active', 0)",
  );
});
afterEach(async () => {
  vi.useRealTimers();
  await env.CONTROL_DB.exec("UPDATE shards SET binding = 'SHARD_PG_0' WHERE id = 'pg-1'");
});

const migrate = (shardId: string, key = admin) => call(`/v1/shards/${shardId}/migrate`, { method: "POST", key });
const migrateAll = (key = admin) => call("/v1/shards/migrate", { method: "POST", key });
const statusOf = async (tenantId: string) => (await call(`/v1/tenants/${tenantId}`, { key: admin })).json;
/** The ids of the shard's ACTIVE tenants. */
const activeOn = async (shardId: string) =>
  (
    await env.CONTROL_DB.prepare("SELECT id FROM tenants WHERE shard_id = ? AND status = 'ACTIVE' ORDER BY id")
      .bind(shardId)
      .all<{ id: string }>()
  ).results.map((row) => row.id);
/** What an operator does here to let 0003_usage_triggers apply again: drop what it creates. */
async function dropUsageTriggers() {
  const { results } = await env.SHARD_D1_FRESH.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'trigger' AND (name LIKE '%quota%' OR name LIKE '%usage%')",
  ).all<{ name: string }>();
  expect(results).toHaveLength(5);
  for (const { name } of results) await env.SHARD_D1_FRESH.exec(`DROP TRIGGER ${name}`);
}
const usage = (tenantId: string) =>
  env.SHARD_D1_FRESH.prepare("SELECT entry_count, stored_bytes FROM shard_tenants WHERE tenant_id = ?")
    .bind(tenantId)
    .first();

describe("POST /v1/shards[/:shardId]/migrate", () => {
  it("applies nothing to an up-to-date PostgreSQL shard", async () => {
    const res = await migrate("pg-0");
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ shard_id: "pg-0", applied: [], tenants_restored: 0 });
  });

  it("puts the shard's tenants in MIGRATION_ERROR when its migrations fail, and back once they succeed", async () => {
    const tenant = await createTenant(admin, { shard_id: "pg-1", data_region: "test" });
    expect(tenant.status).toBe("ACTIVE");
    const key = await tenantKey(admin, tenant.id, ["entries:read", "entries:write"]);
    const entries = `/v1/tenants/${tenant.id}/entries`;
    expect((await call(entries, { method: "POST", key: key.secret, body: { data: { kept: true } } })).status).toBe(201);

    // The shard's database stops answering (here: its binding now reaches a closed port).
    await env.CONTROL_DB.exec("UPDATE shards SET binding = 'SHARD_PG_DOWN' WHERE id = 'pg-1'");
    travel(1_001);
    const down = await call(entries, { key: key.secret });
    expectProblem(down, 503, "shard-unavailable");
    expect(down.headers.get("Retry-After")).toBe("1");
    const failed = await migrate("pg-1");
    expectProblem(failed, 503, "shard-migration-failed");
    expect(failed.json).toMatchObject({ shard_id: "pg-1", tenants_marked: 1 });
    const marked = await call(`/v1/tenants/${tenant.id}`, { key: admin });
    expect(marked.json.status).toBe("MIGRATION_ERROR");
    expect(marked.json.status_reason).toMatch(/^Shard migration failed: /);
    travel(1_001); // cached routes are at most GATE_MAX_STALENESS_MS old
    expectProblem(await call(entries, { key: admin }), 409, "tenant-not-ready");

    await env.CONTROL_DB.exec("UPDATE shards SET binding = 'SHARD_PG_0' WHERE id = 'pg-1'");
    const fixed = await migrate("pg-1");
    travel(1_001);
    expect(fixed.json).toEqual({ shard_id: "pg-1", applied: [], tenants_restored: 1 });
    expect((await call(`/v1/tenants/${tenant.id}`, { key: admin })).json).toMatchObject({
      status: "ACTIVE",
      status_reason: null,
    });
    const list = await call(entries, { key: admin });
    expect(list.json.data.map((e: { data: unknown }) => e.data)).toEqual([{ kept: true }]);
  });

  it("migrates a fresh D1 shard before placing its first tenant there", async () => {
    const tenant = await createTenant(admin, { shard_id: "d1-fresh", data_region: "fresh" });
    expect(tenant).toMatchObject({ status: "ACTIVE", shard_id: "d1-fresh" });
    const applied = await env.SHARD_D1_FRESH.prepare("SELECT name FROM d1_migrations ORDER BY id").all();
    expect(applied.results.map((r) => r.name)).toEqual(env.SHARD_MIGRATIONS.map((m) => m.name));
    const key = await tenantKey(admin, tenant.id, ["entries:read", "entries:write"]);
    const created = await call(`/v1/tenants/${tenant.id}/entries`, {
      method: "POST",
      key: key.secret,
      body: { data: { n: 1 }, tags: ["a"] },
    });
    expect(created.status).toBe(201);
    expect(await usage(tenant.id)).toEqual({ entry_count: 1, stored_bytes: created.json.size_bytes });
    expect((await migrate("d1-fresh")).json).toEqual({ shard_id: "d1-fresh", applied: [], tenants_restored: 0 });
  });

  it("puts a D1 shard's tenants in MIGRATION_ERROR when its migrations fail, and back once they succeed", async () => {
    const tenant = await createTenant(admin, { shard_id: "d1-fresh", data_region: "fresh" });
    const key = await tenantKey(admin, tenant.id, ["entries:read", "entries:write"]);
    const entries = `/v1/tenants/${tenant.id}/entries`;
    expect((await call(entries, { method: "POST", key: key.secret, body: { data: { kept: true } } })).status).toBe(201);

    // The shard's schema and its ledger disagree (say, the ledger was restored from an older
    // copy): re-applying the usage triggers fails, as they exist already.
    await env.SHARD_D1_FRESH.exec("DELETE FROM d1_migrations WHERE name = '0003_usage_triggers.sql'");
    const failed = await migrate("d1-fresh");
    expectProblem(failed, 503, "shard-migration-failed");
    expect(failed.json).toMatchObject({ shard_id: "d1-fresh", tenants_marked: 2 });
    expect(failed.json.detail).toMatch(/^Shard migration failed: .*already exists/);
    expect(await statusOf(tenant.id)).toMatchObject({
      status: "MIGRATION_ERROR",
      status_reason: failed.json.detail,
    });
    travel(1_001); // cached routes are at most GATE_MAX_STALENESS_MS old
    expectProblem(await call(entries, { key: key.secret }), 409, "tenant-not-ready");
    expectProblem(
      await call(entries, { method: "POST", key: key.secret, body: { data: {} } }),
      409,
      "tenant-not-ready",
    );

    // The operator removes what the failed migration collides with; the next run applies it.
    await dropUsageTriggers();
    const fixed = await migrate("d1-fresh");
    expect(fixed.json).toEqual({ shard_id: "d1-fresh", applied: ["0003_usage_triggers"], tenants_restored: 2 });
    travel(2_002);
    expect(await statusOf(tenant.id)).toMatchObject({ status: "ACTIVE", status_reason: null });
    const list = await call(entries, { key: key.secret });
    expect(list.json.data.map((e: { data: unknown }) => e.data)).toEqual([{ kept: true }]);
    // The migration recounted usage, and its triggers keep it current again.
    const before = await usage(tenant.id);
    expect(before).toMatchObject({ entry_count: 1 });
    expect((await call(entries, { method: "POST", key: key.secret, body: { data: { more: 1 } } })).status).toBe(201);
    expect(await usage(tenant.id)).toMatchObject({ entry_count: 2 });
  });

  it("marks a shard's tenants when its migration fails while a tenant is placed there, and restores them on a retry that succeeds", async () => {
    const [first] = await activeOn("d1-fresh");
    if (!first) throw new Error("the tests above left a tenant on d1-fresh");
    await env.SHARD_D1_FRESH.exec("DELETE FROM d1_migrations WHERE name = '0003_usage_triggers.sql'");

    const placed = await createTenant(admin, { shard_id: "d1-fresh", data_region: "fresh" });
    expect(placed.status).toBe("PROVISION_ERROR");
    expect(placed.status_reason).toMatch(/^0003_usage_triggers: .*already exists/);
    expect(await statusOf(first)).toMatchObject({
      status: "MIGRATION_ERROR",
      status_reason: expect.stringMatching(/^Shard migration failed: 0003_usage_triggers: /),
    });

    await dropUsageTriggers();
    const retried = await call(`/v1/tenants/${placed.id}/provision`, { method: "POST", key: admin });
    expect(retried.json).toMatchObject({ status: "ACTIVE", shard_id: "d1-fresh" });
    expect(await statusOf(first)).toMatchObject({ status: "ACTIVE", status_reason: null });
  });

  it("does not mark a shard's tenants when placement merely cannot reach it", async () => {
    const [onPg1] = await activeOn("pg-1");
    if (!onPg1) throw new Error("the tests above left a tenant on pg-1");
    await env.CONTROL_DB.exec("UPDATE shards SET binding = 'SHARD_PG_DOWN' WHERE id = 'pg-1'");
    const placed = await createTenant(admin, { shard_id: "pg-1", data_region: "test" });
    expect(placed.status).toBe("PROVISION_ERROR");
    expect(await statusOf(onPg1)).toMatchObject({ status: "ACTIVE" });
  });

  it("POST /v1/shards/migrate migrates every shard, and names each failing one with its tenants", async () => {
    const all = await migrateAll();
    expect(all.status).toBe(200);
    const { results } = await env.CONTROL_DB.prepare("SELECT id FROM shards ORDER BY id").all<{ id: string }>();
    expect(all.json.data).toEqual(results.map(({ id }) => ({ shard_id: id, applied: [], tenants_restored: 0 })));

    const onPg1 = (await activeOn("pg-1")).length;
    expect(onPg1).toBeGreaterThan(0);
    await env.CONTROL_DB.exec("UPDATE shards SET binding = 'SHARD_PG_DOWN' WHERE id = 'pg-1'");
    const failed = await migrateAll();
    expectProblem(failed, 503, "shard-migration-failed");
    expect(failed.json.detail).toContain("pg-1");
    const outcomes = failed.json.shards as { shard_id: string }[];
    expect(outcomes.map((o) => o.shard_id)).toEqual(results.map((r) => r.id));
    expect(outcomes.find((o) => o.shard_id === "pg-1")).toEqual({
      shard_id: "pg-1",
      error: expect.stringMatching(/^Shard migration failed: /),
      tenants_marked: onPg1,
    });
    expect(outcomes.find((o) => o.shard_id === "d1-shared-0")).toEqual({
      shard_id: "d1-shared-0",
      applied: [],
      tenants_restored: 0,
    });

    await env.CONTROL_DB.exec("UPDATE shards SET binding = 'SHARD_PG_0' WHERE id = 'pg-1'");
    const fixed = await migrateAll();
    expect(fixed.status).toBe(200);
    expect(fixed.json.data.find((o: { shard_id: string }) => o.shard_id === "pg-1")).toEqual({
      shard_id: "pg-1",
      applied: [],
      tenants_restored: onPg1,
    });
  });

  it("answers 404 for an unknown shard, 403 to a tenant key, 401 without a key", async () => {
    expectProblem(await migrate("pg-nope"), 404, "not-found");
    expectProblem(await migrate("Bad_Id"), 400, "validation-error");
    const tenant = await createTenant(admin);
    const key = await tenantKey(admin, tenant.id, ["tenant:admin"]);
    expectProblem(await migrate("pg-0", key.secret), 403, "forbidden");
    expectProblem(await migrateAll(key.secret), 403, "forbidden");
    expectProblem(await call("/v1/shards/migrate", { method: "POST" }), 401, "unauthenticated");
  });
});
