import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { SCHEDULE, scheduled } from "../../src/jobs/scheduled";
import { travel } from "../gate/fixture";
import { adminKey, call, createTenant, errorPaths, expectProblem, tenantKey } from "../helpers";

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});
afterEach(async () => {
  vi.useRealTimers();
  await env.CONTROL_DB.batch([
    env.CONTROL_DB.prepare("DELETE FROM shards WHERE id = 'd1-gone'"),
    env.CONTROL_DB.prepare("UPDATE shards SET status = 'active'"),
  ]);
});

type ShardJson = { id: string; [field: string]: any };
const registry = async (): Promise<ShardJson[]> => {
  const res = await call("/v1/shards", { key: admin });
  expect(res.status).toBe(200);
  return res.json.data;
};

describe("GET /v1/shards", () => {
  it("lists every registered shard with its engine, region, status, health and counts", async () => {
    const tenant = await createTenant(admin, { data_region: "eu" });
    const shards = await registry();
    expect(shards.map((s) => s.id)).toEqual(["d1-dedicated-0", "d1-shared-0", "d1-shared-1", "d1-shared-2", "pg-0"]);
    const eu = shards.find((s) => s.id === tenant.shard_id);
    expect(eu).toMatchObject({
      engine: "d1",
      binding: "SHARD_D1_2",
      region: "eu",
      dedicated: false,
      status: "active",
      accepts_tenants: true,
    });
    expect(eu?.tenant_count).toBeGreaterThanOrEqual(1);
    expect(Object.keys(eu ?? {}).sort()).toEqual(
      [
        "accepts_tenants",
        "binding",
        "dedicated",
        "engine",
        "entry_count",
        "health",
        "id",
        "region",
        "status",
        "stored_bytes",
        "tenant_count",
      ].sort(),
    );
  });

  it("is for platform admins only", async () => {
    const tenant = await createTenant(admin);
    const key = await tenantKey(admin, tenant.id, ["tenant:admin"]);
    expectProblem(await call("/v1/shards", { key: key.secret }), 403, "forbidden");
    expectProblem(await call("/v1/shards"), 401, "unauthenticated");
    expectProblem(await call("/v1/shards/d1-shared-0", { key: key.secret }), 403, "forbidden");
  });

  it("answers 404 for an unknown shard and 400 for a malformed id", async () => {
    expectProblem(await call("/v1/shards/d1-nope", { key: admin }), 404, "not-found");
    expectProblem(await call("/v1/shards/NOT_AN_ID", { key: admin }), 400, "validation-error");
  });
});

describe("probing the shards", () => {
  it("records health, latency and what each shard stores", async () => {
    const tenant = await createTenant(admin, { data_region: "eu" });
    const key = await tenantKey(admin, tenant.id, ["entries:write"]);
    const data = { note: "x".repeat(100) };
    expect(
      (await call(`/v1/tenants/${tenant.id}/entries`, { method: "POST", key: key.secret, body: { data } })).status,
    ).toBe(201);
    const before = Date.now();
    const res = await call("/v1/shards/probe", { method: "POST", key: admin });
    expect(res.status).toBe(200);
    for (const shard of res.json.data as ShardJson[]) {
      expect(shard.health.state).toBe("healthy");
      expect(shard.health.detail).toBeNull();
      expect(shard.health.latency_ms).toBeGreaterThanOrEqual(0);
      expect(Date.parse(shard.health.probed_at)).toBeGreaterThanOrEqual(before - 1);
    }
    const eu = (res.json.data as ShardJson[]).find((s) => s.id === "d1-shared-2");
    expect(eu?.entry_count).toBeGreaterThanOrEqual(1);
    expect(eu?.stored_bytes).toBeGreaterThanOrEqual(JSON.stringify(data).length);
  });

  it("marks a registry shard whose binding is not declared unhealthy instead of failing", async () => {
    await env.CONTROL_DB.exec(
      "INSERT INTO shards (id, engine, binding, region, dedicated, status, created_at) VALUES ('d1-gone', 'd1', 'SHARD_D1_GONE', 'us', 0, 'active', 0)",
    );
    const res = await call("/v1/shards/probe", { method: "POST", key: admin });
    expect(res.status).toBe(200);
    const gone = (res.json.data as ShardJson[]).find((s) => s.id === "d1-gone");
    expect(gone).toMatchObject({
      status: "active",
      accepts_tenants: false,
      health: { state: "unhealthy", detail: "binding SHARD_D1_GONE is not declared", latency_ms: null },
    });
    expect((await registry()).filter((s) => s.id !== "d1-gone").every((s) => s.health.state === "healthy")).toBe(true);
  });

  it("runs every 5 minutes from the cron", async () => {
    await env.CONTROL_DB.exec("UPDATE shards SET probed_at = NULL, health = 'unknown'");
    const ctx = createExecutionContext();
    await scheduled(createScheduledController({ cron: SCHEDULE.probeShards.cron }), env, ctx);
    await waitOnExecutionContext(ctx);
    for (const shard of await registry()) expect(shard.health.state).toBe("healthy");
  });
});

describe("PATCH /v1/shards/:shardId", () => {
  it("changes the status; placement follows at once", async () => {
    const res = await call("/v1/shards/d1-dedicated-0", { method: "PATCH", key: admin, body: { status: "draining" } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: "d1-dedicated-0", status: "draining", accepts_tenants: false });
    expect((await createTenant(admin, { tier: "ENTERPRISE" })).status).toBe("PROVISION_ERROR");
  });

  it("makes a read-only shard refuse its tenants' writes with 503 and Retry-After, while reads go on", async () => {
    const tenant = await createTenant(admin, { data_region: "eu" });
    const key = await tenantKey(admin, tenant.id, ["entries:read", "entries:write"]);
    const entries = `/v1/tenants/${tenant.id}/entries`;
    expect((await call(entries, { method: "POST", key: key.secret, body: { data: {} } })).status).toBe(201);

    await call("/v1/shards/d1-shared-2", { method: "PATCH", key: admin, body: { status: "read-only" } });
    travel(1_001); // every cached route is at most GATE_MAX_STALENESS_MS old
    const refused = await call(entries, { method: "POST", key: key.secret, body: { data: {} } });
    expectProblem(refused, 503, "shard-read-only");
    expect(refused.headers.get("Retry-After")).toBe("60");
    expectProblem(await call(entries, { method: "POST", key: admin, body: { data: {} } }), 503, "shard-read-only");
    const read = await call(entries, { key: key.secret });
    expect(read.status).toBe(200);
    expect(read.json.data).toHaveLength(1);

    await call("/v1/shards/d1-shared-2", { method: "PATCH", key: admin, body: { status: "active" } });
    travel(1_001);
    expect((await call(entries, { method: "POST", key: key.secret, body: { data: {} } })).status).toBe(201);
  });

  it("answers 400 for an unknown status or field, 404 for an unknown shard", async () => {
    const bad = await call("/v1/shards/d1-shared-0", { method: "PATCH", key: admin, body: { status: "broken" } });
    expectProblem(bad, 400, "validation-error");
    expect(errorPaths(bad)).toEqual(["body.status"]);
    const extra = await call("/v1/shards/d1-shared-0", {
      method: "PATCH",
      key: admin,
      body: { status: "active", binding: "X" },
    });
    expectProblem(extra, 400, "validation-error");
    expectProblem(
      await call("/v1/shards/d1-nope", { method: "PATCH", key: admin, body: { status: "active" } }),
      404,
      "not-found",
    );
  });
});
