import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { TenantGate } from "../../durable-objects/tenant-gate";
import { routeCache } from "../../src/routing/cache";
import { adminKey, call, captureConsole, createTenant, expectProblem, tenantKey } from "../helpers";
import { gateStub, keyFor, travel } from "./fixture";

// Makes the control database fail for real (its tables renamed away) while requests keep coming.
// Storage is isolated per test file, so no other file sees the outage.

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});
captureConsole("warn");
afterEach(() => {
  vi.useRealTimers();
});

async function outage(tables: string[], run: () => Promise<void>) {
  for (const table of tables) await env.CONTROL_DB.exec(`ALTER TABLE ${table} RENAME TO ${table}_offline`);
  try {
    await run();
  } finally {
    for (const table of tables) await env.CONTROL_DB.exec(`ALTER TABLE ${table}_offline RENAME TO ${table}`);
  }
}

/** A tenant with an entry, whose key this isolate and the tenant's gate have both seen. */
async function warmTenant() {
  const tenant = await createTenant(admin);
  const key = await keyFor(admin, tenant.id);
  const entries = `/v1/tenants/${tenant.id}/entries`;
  expect((await call(entries, { method: "POST", key, body: { data: { n: 1 }, tags: [] } })).status).toBe(201);
  return { tenant, key, entries };
}

describe("with the control database failing", () => {
  it("keeps serving a known tenant key from the isolate's cache and the gate's copy", async () => {
    const { tenant, key, entries } = await warmTenant();
    await outage(["api_keys", "tenants", "plans", "shards", "users"], async () => {
      // The gate tries to reload (as it must once its copy is a second old) and fails.
      travel(Number(env.GATE_MAX_STALENESS_MS) + 1);
      const read = await call(entries, { key });
      expect(read.status).toBe(200);
      expect(read.json.data).toHaveLength(1);
      const write = await call(entries, { method: "POST", key, body: { data: { n: 2 }, tags: [] } });
      expect(write.status).toBe(201);
      // Limits still apply, from the copy.
      expect(read.headers.get("RateLimit-Policy")).toContain('"tenant";q=600');

      const limits = await call(`/v1/tenants/${tenant.id}/limits`, { key });
      expect(limits.json.stale).toBe(true);
    });
    // Once the database is back, the next reload clears the stale flag.
    travel(Number(env.GATE_MAX_STALENESS_MS) + 1);
    expect((await call(`/v1/tenants/${tenant.id}/limits`, { key })).json.stale).toBe(false);
  });

  it("answers 503 control-plane-unavailable for a key it has never seen", async () => {
    const { tenant } = await warmTenant();
    const { secret } = await tenantKey(admin, tenant.id);
    await outage(["api_keys"], async () => {
      const res = await call("/v1/ping", { key: secret });
      expectProblem(res, 503, "control-plane-unavailable");
      expect(res.headers.get("Retry-After")).toBe("1");
    });
    expect((await call("/v1/ping", { key: secret })).status).toBe(200);
  });

  it("routes an admin's request from the cached route, then from the gate's copy once the cache is empty", async () => {
    const { entries } = await warmTenant();
    expect((await call(entries, { key: admin })).status).toBe(200);
    // plans and shards are what routing reads; admin keys are still verifiable.
    await outage(["plans", "shards"], async () => {
      travel(Number(env.GATE_MAX_STALENESS_MS) + 1);
      const fromCache = await call(entries, { key: admin });
      expect(fromCache.status).toBe(200);

      routeCache(env).clear();
      const fromGate = await call(entries, { key: admin });
      expect(fromGate.status).toBe(200);
      expect(fromGate.json.data).toHaveLength(1);

      // A tenant no cache holds and whose gate has no copy cannot be routed.
      const unknown = "ten_01M8400000000000000000000Z";
      expectProblem(await call(`/v1/tenants/${unknown}/entries`, { key: admin }), 503, "control-plane-unavailable");
    });
  });

  it("keeps the gate's copy in its storage, so a restarted gate still has it", async () => {
    const { tenant } = await warmTenant();
    await outage(["api_keys", "tenants", "plans", "shards", "users"], async () => {
      const route = await runInDurableObject(gateStub(tenant.id), async (_instance, state) => {
        // A fresh instance over the same storage is what a restart (eviction, deploy) produces.
        const restarted = new TenantGate(state, env);
        return restarted.routeCopy(tenant.id);
      });
      expect(route).toMatchObject({ tenantId: tenant.id, status: "ACTIVE", shard: { id: tenant.shard_id } });
    });
  });
});
