import { runInDurableObject } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { AdmitResult, FenceResult, WriteResult } from "../../src/gate/protocol";
import { parseKey, sha256Hex } from "../../src/keys/secret";
import { adminKey, call, expectProblem } from "../helpers";
import { gateStub, keyFor, limitedTenant, settled, travel } from "./fixture";

// The write fence a tenant move raises in the tenant's gate (src/gate/fence.ts, src/moves/job.ts).

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});
afterEach(() => {
  vi.useRealTimers();
});

async function fencedTenant() {
  const { tenant, key, keyId } = await limitedTenant(admin, { max_concurrency: 50 }, "STANDARD", {
    shard_id: "d1-shared-0",
  });
  const path = `/v1/tenants/${tenant.id}/entries`;
  const created = await call(path, { method: "POST", key, body: { data: { before: true } } });
  expect(created.status).toBe(201);
  await settled(admin, tenant.id);
  return { tenantId: tenant.id, key, keyId, path, entryId: created.json.id as string, gate: gateStub(tenant.id) };
}

/** A tenant key's data write admitted by the gate and not yet released, as a slow request holds it. */
async function admitWrite(gate: ReturnType<typeof gateStub>, tenantId: string, keyId: string, key: string) {
  return (await gate.admit({
    tenantId,
    keyId,
    secretHash: sha256Hex(parseKey(key)?.secret ?? ""),
    knownVersion: null,
    releases: [],
    write: true,
  })) as AdmitResult;
}

const raise = async (gate: ReturnType<typeof gateStub>, moveId: string, ttlMs = 30_000, drainMs = 1_000) =>
  (await gate.raiseFence(moveId, ttlMs, drainMs)) as FenceResult;

describe("a move's write fence", () => {
  it("holds data writes back, tenant keys' and admins' alike, while reads and other writes go on", async () => {
    const { tenantId, key, path, entryId, gate } = await fencedTenant();
    expect(await raise(gate, "mov_one")).toEqual({ raised: true, drained: true, inFlight: 0 });

    const started = Date.now();
    const refused = await call(path, { method: "POST", key, body: { data: { during: true } } });
    // It waited for the fence to lift (up to 2 s), then gave up.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    expectProblem(refused, 503, "tenant-moving");
    expect(refused.headers.get("Retry-After")).toBe("1");
    expect(refused.json.retry_after).toBe(1);
    const replace = await call(`${path}/${entryId}`, { method: "PUT", key, body: { data: { x: 1 } } });
    expectProblem(replace, 503, "tenant-moving");
    expectProblem(
      await call(path, { method: "POST", key: admin, body: { data: { admin: true } } }),
      503,
      "tenant-moving",
    );

    expect((await call(`${path}/${entryId}`, { key })).status).toBe(200);
    expect((await call(path, { key: admin })).status).toBe(200);
    // Writes that do not touch the shard are not held back.
    const user = await call(`/v1/tenants/${tenantId}/users`, {
      method: "POST",
      key: await keyFor(admin, tenantId),
      body: { email: "during-move@example.com", role: "MEMBER" },
    });
    expect(user.status, user.text).toBe(201);

    expect(await gate.liftFence(tenantId, "mov_one")).toBe(true);
    expect((await call(path, { method: "POST", key, body: { data: { after: true } } })).status).toBe(201);
    const { json } = await call(`${path}?limit=10`, { key });
    expect(json.data.map((e: { data: unknown }) => e.data)).toEqual([{ after: true }, { before: true }]);
  });

  it("lets a waiting write through as soon as the fence lifts", async () => {
    const { tenantId, key, path, gate } = await fencedTenant();
    await raise(gate, "mov_two");
    const started = Date.now();
    const waiting = call(path, { method: "POST", key, body: { data: { waited: true } } });
    await scheduler.wait(300);
    expect(await gate.liftFence(tenantId, "mov_two")).toBe(true);
    const res = await waiting;
    expect(res.status, res.text).toBe(201);
    expect(Date.now() - started).toBeLessThan(1_900);
  });

  it("drains: reports writes admitted before it until they are released", async () => {
    const { tenantId, key, keyId, gate } = await fencedTenant();
    const admitted = await admitWrite(gate, tenantId, keyId, key);
    if (!admitted.admitted) throw new Error(admitted.problem);

    expect(await raise(gate, "mov_three", 30_000, 100)).toEqual({ raised: true, drained: false, inFlight: 1 });
    await gate.release([{ leaseId: admitted.leaseId, outcomes: [] }]);
    expect(await raise(gate, "mov_three", 30_000, 100)).toEqual({ raised: true, drained: true, inFlight: 0 });
    expect(await gate.liftFence(tenantId, "mov_three")).toBe(true);
  });

  it("counts a write whose release never came as finished once its request's deadline has passed", async () => {
    const { tenantId, key, keyId, gate } = await fencedTenant();
    const admitted = await admitWrite(gate, tenantId, keyId, key);
    expect(admitted.admitted).toBe(true);
    expect((await raise(gate, "mov_four", 60_000, 50)).drained).toBe(false);
    // SHARD_TIMEOUT_MS (10 s) plus the margin.
    travel(11_001);
    expect(await raise(gate, "mov_four", 60_000, 50)).toEqual({ raised: true, drained: true, inFlight: 0 });
    expect(await gate.liftFence(tenantId, "mov_four")).toBe(true);
  });

  it("lapses after its time, and a lapsed fence cannot be sealed", async () => {
    const { key, path, gate } = await fencedTenant();
    await raise(gate, "mov_five", 1_000);
    travel(1_001);
    expect((await call(path, { method: "POST", key, body: { data: { lapsed: true } } })).status).toBe(201);
    expect(await gate.sealFence("mov_five", 60_000)).toBe(false);
  });

  it("belongs to one move: another cannot raise, seal or lift it", async () => {
    const { tenantId, gate } = await fencedTenant();
    await raise(gate, "mov_six");
    expect(await raise(gate, "mov_other")).toEqual({ raised: false, drained: false, inFlight: 0 });
    expect(await gate.sealFence("mov_other", 60_000)).toBe(false);
    // Lifting a fence one does not hold is a no-op that reports success (idempotent retries).
    expect(await gate.liftFence(tenantId, "mov_other")).toBe(true);
    expect((await raise(gate, "mov_other")).raised).toBe(false);
    expect(await gate.sealFence("mov_six", 60_000)).toBe(true);
    expect(await gate.liftFence(tenantId, "mov_six")).toBe(true);
    expect((await raise(gate, "mov_other")).raised).toBe(true);
    expect(await gate.liftFence(tenantId, "mov_other")).toBe(true);
  });

  it("lifts for a shard only once the gate's route names that shard", async () => {
    const { tenantId, gate } = await fencedTenant();
    await raise(gate, "mov_seven");
    expect(await gate.liftFence(tenantId, "mov_seven", "d1-shared-1")).toBe(false);
    expect((await raise(gate, "mov_other")).raised).toBe(false);
    expect(await gate.liftFence(tenantId, "mov_seven", "d1-shared-0")).toBe(true);
  });

  it("is stored, so a restarted gate still holds it", async () => {
    const { tenantId, gate } = await fencedTenant();
    await raise(gate, "mov_eight");
    const stored = await runInDurableObject(gate, (_, state) =>
      state.storage.sql.exec<{ move_id: string }>("SELECT move_id FROM fence").toArray(),
    );
    expect(stored).toEqual([{ move_id: "mov_eight" }]);
    await gate.liftFence(tenantId, "mov_eight");
    const after = await runInDurableObject(gate, (_, state) => state.storage.sql.exec("SELECT * FROM fence").toArray());
    expect(after).toEqual([]);
  });

  it("refuses an admin's write whose route names a shard the tenant has left", async () => {
    const { tenantId, gate } = await fencedTenant();
    const stale = (await gate.admitWrite(tenantId, "d1-shared-1")) as WriteResult;
    expect(stale).toMatchObject({ admitted: false, problem: "tenant-moving", retryAfterSeconds: 1 });
    const current = (await gate.admitWrite(tenantId, "d1-shared-0")) as WriteResult;
    if (!current.admitted) throw new Error(current.problem);
    expect((await raise(gate, "mov_nine", 30_000, 50)).inFlight).toBe(1);
    await gate.releaseWrite(current.leaseId, []);
    expect((await raise(gate, "mov_nine", 30_000, 50)).drained).toBe(true);
    await gate.liftFence(tenantId, "mov_nine");
  });
});
