import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { AdmitResult } from "../../src/gate/protocol";
import { parseKey, sha256Hex } from "../../src/keys/secret";
import { adminKey, call, expectProblem, shardBinding } from "../helpers";
import { gateStub, limitedTenant, limitsOf, settled, travel } from "./fixture";

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Admits through the tenant's gate directly, holding the slot until released, as a slow request would. */
async function hold(tenantId: string, keyId: string, secret: string) {
  const parsed = parseKey(secret);
  if (!parsed) throw new Error("bad key");
  const result = (await gateStub(tenantId).admit({
    tenantId,
    keyId,
    secretHash: sha256Hex(parsed.secret),
    knownVersion: null,
    releases: [],
    write: false,
  })) as AdmitResult;
  if (!result.admitted) throw new Error(`not admitted: ${result.problem}`);
  return result.leaseId;
}

describe("the concurrency bulkhead", () => {
  it("answers 503 concurrency-limit with Retry-After once max_concurrency requests are in flight", async () => {
    const { tenant, key, keyId } = await limitedTenant(admin, { max_concurrency: 2 });
    const first = await hold(tenant.id, keyId, key);
    await hold(tenant.id, keyId, key);
    const full = await call("/v1/ping", { key });
    expectProblem(full, 503, "concurrency-limit");
    expect(full.headers.get("Retry-After")).toBe("1");
    expect(full.json.max_concurrency).toBe(2);
    expect((await limitsOf(admin, tenant.id)).concurrency).toEqual({ limit: 2, in_flight: 2 });

    await gateStub(tenant.id).release([{ leaseId: first, outcomes: [] }]);
    expect((await call("/v1/ping", { key })).status).toBe(200);
  });

  it("returns a finished request's slot before the tenant's next request is decided", async () => {
    const { tenant, key } = await limitedTenant(admin, { max_concurrency: 1 });
    // Back to back, with no time for a release of its own: each admit carries the previous slot.
    for (let i = 0; i < 5; i++) expect((await call("/v1/ping", { key })).status).toBe(200);
    // With no next request, the slot comes back on its own shortly after the response.
    await settled(admin, tenant.id);
  });

  it("gives FREE tenants 5 slots and the others 20", async () => {
    for (const [tier, slots] of [
      ["FREE", 5],
      ["ENTERPRISE", 20],
    ] as const) {
      const { tenant } = await limitedTenant(admin, {}, tier);
      expect((await limitsOf(admin, tenant.id)).concurrency.limit).toBe(slots);
    }
  });

  it("consumes no rate or quota when the bulkhead refuses", async () => {
    const { tenant, key, keyId } = await limitedTenant(admin, { max_concurrency: 1 });
    const lease = await hold(tenant.id, keyId, key);
    for (let i = 0; i < 3; i++) expectProblem(await call("/v1/ping", { key }), 503, "concurrency-limit");
    const view = await limitsOf(admin, tenant.id);
    expect(view.rate_limits[0]?.used).toBe(1);
    expect(view.monthly_requests.used).toBe(1);
    await gateStub(tenant.id).release([{ leaseId: lease, outcomes: [] }]);
  });

  it("releases the slot of a request that failed, whatever the error", async () => {
    const { tenant, key } = await limitedTenant(admin, { max_concurrency: 1 }, "STANDARD", { shard_id: "d1-shared-0" });
    const entries = `/v1/tenants/${tenant.id}/entries`;
    expectProblem(await call(`${entries}/ent_01M8400000000000000000000`, { key }), 400, "validation-error");
    await settled(admin, tenant.id);
    expectProblem(await call(`${entries}/ent_01M84000000000000000000000`, { key }), 404, "not-found");
    await settled(admin, tenant.id);
    expectProblem(await call(entries, { method: "POST", key, body: "{" }), 400, "malformed-json");
    await settled(admin, tenant.id);

    // A 500 from the shard itself: the entries table is gone for a moment.
    const shard = await shardBinding(tenant.shard_id);
    await shard.exec("ALTER TABLE entries RENAME TO entries_offline");
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const failed = await call(entries, { key });
      expect(failed.status).toBe(500);
    } finally {
      logged.mockRestore();
      await shard.exec("ALTER TABLE entries_offline RENAME TO entries");
    }
    await settled(admin, tenant.id);
    expect((await call(entries, { key })).status).toBe(200);
  });

  it("reclaims a slot whose release never arrives once its lease expires", async () => {
    const { tenant, key, keyId } = await limitedTenant(admin, { max_concurrency: 1 });
    await hold(tenant.id, keyId, key); // never released: a crashed isolate
    expectProblem(await call("/v1/ping", { key }), 503, "concurrency-limit");
    travel(Number(env.GATE_LEASE_SECONDS) * 1000 - 1_000);
    expectProblem(await call("/v1/ping", { key }), 503, "concurrency-limit");
    travel(1_000);
    expect((await call("/v1/ping", { key })).status).toBe(200);
  });
});
