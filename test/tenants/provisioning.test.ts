import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { adminKey, call, createTenant, expectProblem, tenantKey, uniqueSlug } from "../helpers";

// These tests rewrite the shard registry; storage is isolated per test file, so other files
// keep the seeded registry. Each test restores it afterwards.

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

const SEEDED = ["d1-shared-0", "d1-shared-1", "d1-shared-2", "d1-dedicated-0", "pg-0"];

async function resetRegistry() {
  await env.CONTROL_DB.batch([
    env.CONTROL_DB.prepare(`DELETE FROM shards WHERE id NOT IN (${SEEDED.map(() => "?").join(", ")})`).bind(...SEEDED),
    // One test deletes a seeded shard.
    env.CONTROL_DB.prepare(
      "INSERT OR IGNORE INTO shards (id, engine, binding, region, dedicated, status, created_at) VALUES ('d1-shared-0', 'd1', 'SHARD_D1_0', 'us', 0, 'active', 0)",
    ),
    env.CONTROL_DB.prepare(`UPDATE shards SET status = 'active', health = 'unknown', health_detail = NULL`),
  ]);
}

afterEach(resetRegistry);

async function drainAllShards() {
  await env.CONTROL_DB.exec("UPDATE shards SET status = 'draining'");
}

async function addShard(id: string, binding: string) {
  await env.CONTROL_DB.prepare(
    "INSERT INTO shards (id, engine, binding, region, dedicated, status, created_at) VALUES (?, 'd1', ?, 'us', 0, 'active', ?)",
  )
    .bind(id, binding, Date.now())
    .run();
}

const provision = (tenantId: string) => call(`/v1/tenants/${tenantId}/provision`, { method: "POST", key: admin });

async function shardHolds(db: D1Database, tenantId: string) {
  const row = await db.prepare("SELECT tenant_id FROM shard_tenants WHERE tenant_id = ?").bind(tenantId).first();
  return row !== null;
}

describe("a registry shard whose binding is not declared", () => {
  it("is marked unhealthy and skipped; the tenant waits in PROVISION_ERROR, then recovers", async () => {
    await drainAllShards();
    await addShard("d1-missing", "SHARD_D1_MISSING");

    const res = await call("/v1/tenants", {
      method: "POST",
      key: admin,
      body: { name: "Unlucky", slug: uniqueSlug("unlucky"), tier: "STANDARD" },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("Location")).toBe(`/v1/tenants/${res.json.id}`);
    expect(res.json).toMatchObject({ status: "PROVISION_ERROR", shard_id: null });
    expect(res.json.status_reason).toBe(
      "No active shared shard is available (skipped d1-missing: binding SHARD_D1_MISSING is not declared)",
    );
    const tenantId: string = res.json.id;
    const registry = await call("/v1/shards/d1-missing", { key: admin });
    expect(registry.json).toMatchObject({
      status: "active",
      accepts_tenants: false,
      health: { state: "unhealthy", detail: "binding SHARD_D1_MISSING is not declared" },
    });

    // The state is persisted, not just reported.
    const read = await call(`/v1/tenants/${tenantId}`, { key: admin });
    expect(read.json).toMatchObject({ status: "PROVISION_ERROR", status_reason: res.json.status_reason });

    // Data routes refuse to serve the tenant, for the platform admin and the tenant's own key.
    expectProblem(await call(`/v1/tenants/${tenantId}/entries`, { key: admin }), 409, "tenant-not-ready");
    const own = await tenantKey(admin, tenantId);
    expectProblem(
      await call(`/v1/tenants/${tenantId}/entries`, { method: "POST", key: own.secret, body: { data: { a: 1 } } }),
      409,
      "tenant-not-ready",
    );

    // Fix the registry: the row now points at a declared binding. Placement checks it again.
    await env.CONTROL_DB.prepare("UPDATE shards SET binding = 'SHARD_D1_0' WHERE id = 'd1-missing'").run();
    const retried = await provision(tenantId);
    expect(retried.status).toBe(200);
    expect(retried.json).toMatchObject({ id: tenantId, status: "ACTIVE", status_reason: null, shard_id: "d1-missing" });
    expect(await shardHolds(env.SHARD_D1_0, tenantId)).toBe(true);
    expect((await call("/v1/shards/d1-missing", { key: admin })).json.health.state).toBe("healthy");

    // The tenant now serves data.
    const entry = await call(`/v1/tenants/${tenantId}/entries`, {
      method: "POST",
      key: own.secret,
      body: { data: { ready: true } },
    });
    expect(entry.status).toBe(201);
    const list = await call(`/v1/tenants/${tenantId}/entries`, { key: own.secret });
    expect(list.json.data.map((e: { id: string }) => e.id)).toEqual([entry.json.id]);

    // Provisioning an ACTIVE tenant again is a conflict.
    const again = await provision(tenantId);
    expectProblem(again, 409, "conflict");
    expect((await call(`/v1/tenants/${tenantId}`, { key: admin })).json.status).toBe("ACTIVE");
  });

  it("stays in PROVISION_ERROR when provisioning is retried before the registry is fixed", async () => {
    await drainAllShards();
    await addShard("d1-missing", "SHARD_D1_MISSING");
    const tenant = await createTenant(admin);
    expect(tenant.status).toBe("PROVISION_ERROR");

    const retried = await provision(tenant.id);
    expect(retried.status).toBe(200);
    expect(retried.json.status).toBe("PROVISION_ERROR");
    expect(retried.json.status_reason).toContain("SHARD_D1_MISSING");
  });
});

describe("a shard that fails while the tenant is registered on it", () => {
  /** Places a tenant on d1-shared-0 (the only active shard) while its shard_tenants table is gone. */
  async function failedOnShard0() {
    await env.CONTROL_DB.exec("UPDATE shards SET status = 'draining' WHERE id != 'd1-shared-0'");
    // Placement trusts a fresh healthy probe; the table disappears right after it.
    expect((await call("/v1/shards/probe", { method: "POST", key: admin })).status).toBe(200);
    await env.SHARD_D1_0.exec("ALTER TABLE shard_tenants RENAME TO shard_tenants_offline");
    try {
      const tenant = await createTenant(admin);
      expect(tenant).toMatchObject({ status: "PROVISION_ERROR", shard_id: "d1-shared-0" });
      expect(tenant.status_reason).toContain("shard_tenants");
      return tenant;
    } finally {
      await env.SHARD_D1_0.exec("ALTER TABLE shard_tenants_offline RENAME TO shard_tenants");
    }
  }

  it("keeps the placement on retry while that shard is still active", async () => {
    const tenant = await failedOnShard0();
    const retried = await provision(tenant.id);
    expect(retried.json).toMatchObject({ status: "ACTIVE", shard_id: "d1-shared-0", status_reason: null });
    expect(await shardHolds(env.SHARD_D1_0, tenant.id)).toBe(true);
  });

  it.each([
    ["is deleted from the registry", "DELETE FROM shards WHERE id = 'd1-shared-0'"],
    ["is draining", "UPDATE shards SET status = 'draining' WHERE id = 'd1-shared-0'"],
  ])("places the tenant again when the shard %s", async (_, sql) => {
    const tenant = await failedOnShard0();
    await env.CONTROL_DB.exec(sql);
    await env.CONTROL_DB.exec("UPDATE shards SET status = 'active' WHERE id = 'd1-shared-1'");
    const retried = await provision(tenant.id);
    expect(retried.json).toMatchObject({ status: "ACTIVE", shard_id: "d1-shared-1", status_reason: null });
    expect(await shardHolds(env.SHARD_D1_1, tenant.id)).toBe(true);
  });
});

describe("provisioning with no active shard", () => {
  it("leaves the tenant in PROVISION_ERROR with 'No active shared shard is available'", async () => {
    await drainAllShards();
    const res = await call("/v1/tenants", {
      method: "POST",
      key: admin,
      body: { name: "Nowhere", slug: uniqueSlug("nowhere"), tier: "FREE" },
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      status: "PROVISION_ERROR",
      status_reason: "No active shared shard is available",
      shard_id: null,
    });
    expectProblem(await call(`/v1/tenants/${res.json.id}/entries`, { key: admin }), 409, "tenant-not-ready");
  });

  it("places the tenant once a shard is active again and provisioning is retried", async () => {
    await drainAllShards();
    const tenant = await createTenant(admin);
    expect(tenant).toMatchObject({ status: "PROVISION_ERROR", shard_id: null });

    await env.CONTROL_DB.exec("UPDATE shards SET status = 'active' WHERE id = 'd1-shared-1'");
    const retried = await provision(tenant.id);
    expect(retried.status).toBe(200);
    expect(retried.json).toMatchObject({ status: "ACTIVE", status_reason: null, shard_id: "d1-shared-1" });
    expect(await shardHolds(env.SHARD_D1_1, tenant.id)).toBe(true);
  });

  it("does not place tenants on shards that are read-only, draining or unhealthy", async () => {
    await env.CONTROL_DB.exec(
      "UPDATE shards SET status = CASE id WHEN 'd1-shared-0' THEN 'read-only' WHEN 'd1-shared-1' THEN 'unhealthy' ELSE 'draining' END",
    );
    const tenant = await createTenant(admin);
    expect(tenant).toMatchObject({ status: "PROVISION_ERROR", status_reason: "No active shared shard is available" });
  });
});

describe("a tenant in PROVISION_ERROR", () => {
  it("cannot be resumed or suspended by PATCH", async () => {
    await drainAllShards();
    const tenant = await createTenant(admin);
    expect(tenant.status).toBe("PROVISION_ERROR");

    const resume = await call(`/v1/tenants/${tenant.id}`, { method: "PATCH", key: admin, body: { status: "ACTIVE" } });
    expectProblem(resume, 409, "conflict");
    const suspend = await call(`/v1/tenants/${tenant.id}`, {
      method: "PATCH",
      key: admin,
      body: { status: "SUSPENDED" },
    });
    expectProblem(suspend, 409, "conflict");
    expect((await call(`/v1/tenants/${tenant.id}`, { key: admin })).json.status).toBe("PROVISION_ERROR");
  });

  it("can still be renamed", async () => {
    await drainAllShards();
    const tenant = await createTenant(admin);
    const res = await call(`/v1/tenants/${tenant.id}`, { method: "PATCH", key: admin, body: { name: "Renamed" } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ name: "Renamed", status: "PROVISION_ERROR" });
  });

  it("is listed by the PROVISION_ERROR status filter", async () => {
    await drainAllShards();
    const tenant = await createTenant(admin);
    const res = await call("/v1/tenants?status=PROVISION_ERROR&limit=100", { key: admin });
    expect(res.status).toBe(200);
    expect(res.json.data.map((t: { id: string }) => t.id)).toContain(tenant.id);
    for (const t of res.json.data) expect(t.status).toBe("PROVISION_ERROR");
  });
});
