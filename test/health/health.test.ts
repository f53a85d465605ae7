import { beforeAll, describe, expect, it } from "vitest";
import { adminKey, call, createTenant, expectProblem, tenantKey } from "../helpers";

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

describe("liveness and readiness", () => {
  it("GET /health answers without asking anything, GET /health/ready after asking the database and the queue", async () => {
    const live = await call("/health");
    expect(live.status).toBe(200);
    expect(live.json).toEqual({ status: "UP" });
    const ready = await call("/health/ready");
    expect(ready.status, ready.text).toBe(200);
    expect(ready.json).toMatchObject({
      status: "UP",
      checks: { control_db: { status: "UP" }, queue: { status: "UP" } },
    });
    expect(ready.json.checks.control_db.ms).toBeGreaterThanOrEqual(0);
  });
});

describe("GET /v1/health/tenants", () => {
  it("is UP with counts by status and tier, provisioning time, the routing cache and a live sample of shards", async () => {
    const made = [];
    for (const tier of ["FREE", "STANDARD", "STANDARD"]) made.push(await createTenant(admin, { tier }));
    // A tenant key's requests go through the routing cache.
    const key = (await tenantKey(admin, (made[0] as { id: string }).id)).secret;
    for (let i = 0; i < 3; i++) expect((await call("/v1/ping", { key })).status).toBe(200);
    const res = await call("/v1/health/tenants", { key: admin });
    expect(res.status, res.text).toBe(200);
    const health = res.json;
    expect(health.status).toBe("UP");
    expect(health.reasons).toEqual([]);
    expect(health.tenants.active).toBeGreaterThanOrEqual(3);
    expect(health.tenants.by_status.ACTIVE).toBe(health.tenants.active);
    expect(health.tenants.by_tier.FREE).toBeGreaterThanOrEqual(1);
    expect(health.tenants.by_tier.STANDARD).toBeGreaterThanOrEqual(2);
    expect(health.provision_errors).toEqual({ count: 0, tenant_ids: [] });
    expect(health.migration_errors).toEqual({ count: 0, tenant_ids: [] });
    expect(health.provisioning.tenants).toBeGreaterThanOrEqual(3);
    expect(health.provisioning.average_ms).toBeGreaterThanOrEqual(0);
    expect(health.routing_cache.hits).toBeGreaterThanOrEqual(2);
    expect(health.routing_cache.hit_rate).toBeGreaterThan(0);
    expect(health.circuits).toEqual({ open: 0, tenants: [] });
    expect(health.shard_sample.length).toBe(Math.min(5, health.tenants.active));
    for (const check of health.shard_sample) expect(check).toMatchObject({ status: "UP" });
  });

  it("is for platform admins only", async () => {
    const tenant = await createTenant(admin);
    const key = (await tenantKey(admin, tenant.id)).secret;
    expectProblem(await call("/v1/health/tenants", { key }), 403, "forbidden");
    expectProblem(await call("/v1/health/tenants"), 401, "unauthenticated");
  });
});
