import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { adminKey, call, createTenant, errorPaths, expectProblem, uniqueSlug } from "../helpers";

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});
afterEach(async () => {
  await env.CONTROL_DB.exec("UPDATE shards SET status = 'active'");
});

const SHARED = ["d1-shared-0", "d1-shared-1", "d1-shared-2", "pg-0"];

async function place(overrides: Record<string, unknown> = {}) {
  const tenant = await createTenant(admin, overrides);
  expect(tenant.status).toBe("ACTIVE");
  return tenant.shard_id as string;
}

const cursor = async (pool: string) =>
  (
    await env.CONTROL_DB.prepare("SELECT next FROM placement_cursors WHERE pool = ?")
      .bind(pool)
      .first<{ next: number }>()
  )?.next ?? 0;

describe("placement of FREE and STANDARD tenants", () => {
  it("goes round-robin over the active shared shards, in registry order", async () => {
    const placed: string[] = [];
    for (let i = 0; i < 6; i++) placed.push(await place({ tier: i % 2 ? "FREE" : "STANDARD" }));
    const start = SHARED.indexOf(placed[0] as string);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(placed).toEqual(placed.map((_, i) => SHARED[(start + i) % SHARED.length]));
  });

  it("keeps its cursor in the control database, so it is one sequence for every isolate and restart", async () => {
    const before = await cursor("shared:*");
    await place();
    expect(await cursor("shared:*")).toBe(before + 1);
    // Whatever holds the cursor next (another isolate, a restarted Worker) continues from it.
    await env.CONTROL_DB.exec("UPDATE placement_cursors SET next = 299 WHERE pool = 'shared:*'");
    expect(await place()).toBe(SHARED[299 % SHARED.length]);
    expect(await place()).toBe(SHARED[300 % SHARED.length]);
  });

  it("spreads concurrent provisioning evenly: the cursor is advanced atomically", async () => {
    const placed = await Promise.all(Array.from({ length: 3 * SHARED.length }, () => place()));
    for (const shard of SHARED) expect(placed.filter((p) => p === shard)).toHaveLength(3);
  });

  it("skips shards that are draining, read-only or unhealthy, and never uses the dedicated one", async () => {
    await env.CONTROL_DB.exec("UPDATE shards SET status = 'draining' WHERE id = 'd1-shared-1'");
    const placed = new Set<string>();
    for (let i = 0; i < 6; i++) placed.add(await place());
    expect([...placed].sort()).toEqual(["d1-shared-0", "d1-shared-2", "pg-0"]);
  });
});

describe("placement of ENTERPRISE tenants", () => {
  it("puts them on the dedicated shard, never on a shared one", async () => {
    for (let i = 0; i < 3; i++) expect(await place({ tier: "ENTERPRISE" })).toBe("d1-dedicated-0");
  });

  it("does not fall back to a shared shard when no dedicated shard is active", async () => {
    await env.CONTROL_DB.exec("UPDATE shards SET status = 'draining' WHERE id = 'd1-dedicated-0'");
    const tenant = await createTenant(admin, { tier: "ENTERPRISE" });
    expect(tenant).toMatchObject({
      status: "PROVISION_ERROR",
      shard_id: null,
      status_reason: "No active dedicated shard is available",
    });
  });
});

describe("data residency", () => {
  it("places a tenant with data_region only on shards of that region", async () => {
    for (let i = 0; i < 3; i++) {
      const tenant = await createTenant(admin, { data_region: "eu" });
      expect(tenant).toMatchObject({ status: "ACTIVE", shard_id: "d1-shared-2", data_region: "eu" });
    }
    const us = new Set<string>();
    for (let i = 0; i < 6; i++) us.add(await place({ data_region: "us" }));
    expect([...us].sort()).toEqual(["d1-shared-0", "d1-shared-1", "pg-0"]);
    expect(await place({ tier: "ENTERPRISE", data_region: "us" })).toBe("d1-dedicated-0");
  });

  it("leaves the tenant in PROVISION_ERROR rather than place it outside its region", async () => {
    await env.CONTROL_DB.exec("UPDATE shards SET status = 'read-only' WHERE id = 'd1-shared-2'");
    const shared = await createTenant(admin, { data_region: "eu" });
    expect(shared).toMatchObject({
      status: "PROVISION_ERROR",
      status_reason: "No active shared shard in region eu is available",
    });
    const enterprise = await createTenant(admin, { tier: "ENTERPRISE", data_region: "eu" });
    expect(enterprise.status_reason).toBe("No active dedicated shard in region eu is available");
  });

  it("answers 422 for a region no shard serves and 400 for a malformed one", async () => {
    const body = (data_region: unknown) => ({ name: "R", slug: uniqueSlug("r"), tier: "FREE", data_region });
    expectProblem(
      await call("/v1/tenants", { method: "POST", key: admin, body: body("mars") }),
      422,
      "unprocessable-entity",
    );
    const bad = await call("/v1/tenants", { method: "POST", key: admin, body: body("EU!") });
    expectProblem(bad, 400, "validation-error");
    expect(errorPaths(bad)).toEqual(["body.data_region"]);
  });

  it("is fixed once placed: PATCH does not take data_region", async () => {
    const tenant = await createTenant(admin, { data_region: "eu" });
    const res = await call(`/v1/tenants/${tenant.id}`, { method: "PATCH", key: admin, body: { data_region: "us" } });
    expectProblem(res, 400, "validation-error");
    expect((await call(`/v1/tenants/${tenant.id}`, { key: admin })).json.data_region).toBe("eu");
  });
});

describe("an operator's choice of shard (shard_id at creation)", () => {
  it("places the tenant there instead of taking a round-robin turn", async () => {
    const before = await cursor("shared:*");
    for (let i = 0; i < 3; i++) expect(await place({ shard_id: "d1-shared-1" })).toBe("d1-shared-1");
    expect(await cursor("shared:*")).toBe(before);
    expect(await place({ tier: "ENTERPRISE", shard_id: "d1-dedicated-0" })).toBe("d1-dedicated-0");
  });

  it.each([
    ["an unknown shard", { shard_id: "d1-nope" }, "it is not registered"],
    ["a dedicated shard for a shared plan", { shard_id: "d1-dedicated-0" }, "dedicated to plans that ask for one"],
    ["a shared shard for ENTERPRISE", { tier: "ENTERPRISE", shard_id: "d1-shared-0" }, "needs a dedicated shard"],
    ["a shard outside the data region", { data_region: "eu", shard_id: "d1-shared-0" }, "not in region eu"],
  ])("answers 422 for %s", async (_, overrides, reason) => {
    const res = await call("/v1/tenants", {
      method: "POST",
      key: admin,
      body: { name: "P", slug: uniqueSlug("p"), tier: "STANDARD", ...overrides },
    });
    expectProblem(res, 422, "unprocessable-entity");
    expect(res.json.detail).toContain(reason);
  });

  it("answers 422 for a shard that is not active and 400 for a malformed id", async () => {
    await env.CONTROL_DB.exec("UPDATE shards SET status = 'draining' WHERE id = 'd1-shared-0'");
    const body = (shard_id: string) => ({ name: "P", slug: uniqueSlug("p"), tier: "FREE", shard_id });
    const draining = await call("/v1/tenants", { method: "POST", key: admin, body: body("d1-shared-0") });
    expectProblem(draining, 422, "unprocessable-entity");
    expect(draining.json.detail).toContain("it is draining");
    const bad = await call("/v1/tenants", { method: "POST", key: admin, body: body("Not A Shard") });
    expectProblem(bad, 400, "validation-error");
    expect(errorPaths(bad)).toEqual(["body.shard_id"]);
  });
});

describe("a shard whose database does not answer", () => {
  it("is probed at placement, marked unhealthy and skipped", async () => {
    await env.CONTROL_DB.exec(
      "INSERT INTO shards (id, engine, binding, region, dedicated, status, created_at) VALUES ('pg-down', 'postgres', 'SHARD_PG_DOWN', 'down', 0, 'active', 0)",
    );
    const tenant = await createTenant(admin, { data_region: "down" });
    expect(tenant).toMatchObject({ status: "PROVISION_ERROR", shard_id: null });
    expect(tenant.status_reason).toMatch(/^No active shared shard in region down is available \(skipped pg-down: /);
    const shard = await call("/v1/shards/pg-down", { key: admin });
    expect(shard.json).toMatchObject({ accepts_tenants: false, health: { state: "unhealthy" } });
    await env.CONTROL_DB.exec("DELETE FROM shards WHERE id = 'pg-down'");
  });
});
