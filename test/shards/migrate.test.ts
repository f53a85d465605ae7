import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { travel } from "../gate/fixture";
import { adminKey, call, createTenant, expectProblem, tenantKey } from "../helpers";

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
  // A second registry row for the PostgreSQL shard, so this file can break it without touching pg-0.
  await env.CONTROL_DB.exec(
    "INSERT INTO shards (id, engine, binding, region, dedicated, status, created_at) VALUES ('pg-1', 'postgres', 'SHARD_PG_0', 'test', 0, 'active', 0)",
  );
});
afterEach(async () => {
  vi.useRealTimers();
  await env.CONTROL_DB.exec("UPDATE shards SET binding = 'SHARD_PG_0' WHERE id = 'pg-1'");
});

const migrate = (shardId: string, key = admin) => call(`/v1/shards/${shardId}/migrate`, { method: "POST", key });

describe("POST /v1/shards/:shardId/migrate", () => {
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

  it("answers 409 for a D1 shard, 404 for an unknown one, 403 to a tenant key", async () => {
    const d1 = await migrate("d1-shared-0");
    expectProblem(d1, 409, "conflict");
    expect(d1.json.detail).toContain("wrangler d1 migrations apply");
    expectProblem(await migrate("pg-nope"), 404, "not-found");
    const tenant = await createTenant(admin);
    const key = await tenantKey(admin, tenant.id, ["tenant:admin"]);
    expectProblem(await migrate("pg-0", key.secret), 403, "forbidden");
  });
});
