import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { travel } from "../gate/fixture";
import { adminKey, call, createTenant, expectProblem, tenantKey } from "../helpers";

// A file of its own: the live sample checks five ACTIVE tenants, so here it checks all of them.

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
  // A second shard on the test PostgreSQL, whose binding the test points at a closed port.
  await env.CONTROL_DB.exec(
    "INSERT INTO shards (id, engine, binding, region, dedicated, status, created_at) VALUES ('pg-1', 'postgres', 'SHARD_PG_0', 'test', 0, 'active', 0)",
  );
});

const health = async () => {
  const res = await call("/v1/health/tenants", { key: admin });
  // DEGRADED is still 200: the body says so.
  expect(res.status, res.text).toBe(200);
  return res.json;
};

describe("a degraded platform", () => {
  it("is DEGRADED, with reasons, when a shard fails, its tenant's circuit opens, and a migration leaves it in MIGRATION_ERROR", async () => {
    const tenant = await createTenant(admin, { shard_id: "pg-1", data_region: "test" });
    const key = (await tenantKey(admin, tenant.id, ["entries:read"])).secret;
    expect((await health()).status).toBe("UP");

    // The shard's database stops answering (its binding now reaches a closed port).
    await env.CONTROL_DB.exec("UPDATE shards SET binding = 'SHARD_PG_DOWN' WHERE id = 'pg-1'");
    try {
      const down = await health();
      expect(down.status).toBe("DEGRADED");
      expect(down.shard_sample).toEqual([
        expect.objectContaining({ tenant_id: tenant.id, shard_id: "pg-1", engine: "postgres", status: "DOWN" }),
      ]);
      expect(down.reasons).toEqual([
        expect.stringMatching(new RegExp(`^shard pg-1 did not answer for ${tenant.id}: `)),
      ]);

      // Its requests fail until the tenant's circuit opens; the gate reports it.
      travel(1_001);
      const entries = `/v1/tenants/${tenant.id}/entries`;
      for (let i = 0; i < 20; i++) expect([503, 500]).toContain((await call(entries, { key })).status);
      expectProblem(await call(entries, { key }), 503, "circuit-open");
      let open = await health();
      for (let i = 0; i < 200 && open.circuits.open === 0; i++) {
        await scheduler.wait(20);
        open = await health();
      }
      expect(open.circuits.tenants).toEqual([{ tenant_id: tenant.id, dependency: "shard", since: expect.any(Number) }]);
      expect(open.reasons).toContain("1 open circuit(s)");

      const migrated = await call("/v1/shards/pg-1/migrate", { method: "POST", key: admin });
      expectProblem(migrated, 503, "shard-migration-failed");
      const marked = await health();
      expect(marked.migration_errors).toEqual({ count: 1, tenant_ids: [tenant.id] });
      expect(marked.reasons).toContain("1 tenant(s) in MIGRATION_ERROR");
      expect(marked.tenants.by_status.MIGRATION_ERROR).toBe(1);
    } finally {
      await env.CONTROL_DB.exec("UPDATE shards SET binding = 'SHARD_PG_0' WHERE id = 'pg-1'");
    }
    // Mended: migrated again, the tenant is ACTIVE and its circuit reset; the platform is UP.
    expect((await call("/v1/shards/pg-1/migrate", { method: "POST", key: admin })).status).toBe(200);
    const reset = await call(`/v1/tenants/${tenant.id}/limits/reset`, {
      method: "POST",
      key: admin,
      body: { scopes: ["circuits"] },
    });
    expect(reset.status, reset.text).toBe(200);
    let mended = await health();
    for (let i = 0; i < 200 && mended.status !== "UP"; i++) {
      await scheduler.wait(20);
      mended = await health();
    }
    expect(mended).toMatchObject({ status: "UP", reasons: [], circuits: { open: 0 } });
  });

  it("lists tenants whose provisioning failed", async () => {
    await env.CONTROL_DB.exec(
      "INSERT OR IGNORE INTO shards (id, engine, binding, region, dedicated, status, created_at) VALUES ('pg-down', 'postgres', 'SHARD_PG_DOWN', 'down', 0, 'active', 0)",
    );
    const res = await call("/v1/tenants", {
      method: "POST",
      key: admin,
      body: {
        name: "Doomed",
        slug: `doomed-${Date.now()}`,
        tier: "STANDARD",
        shard_id: "pg-down",
        data_region: "down",
      },
    });
    expect(res.json?.status, res.text).toBe("PROVISION_ERROR");
    const degraded = await health();
    expect(degraded.status).toBe("DEGRADED");
    expect(degraded.provision_errors).toEqual({ count: 1, tenant_ids: [res.json.id] });
    expect(degraded.reasons).toContain("1 tenant(s) in PROVISION_ERROR");
  });
});
