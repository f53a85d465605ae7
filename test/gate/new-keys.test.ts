import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { AdmitResult } from "../../src/gate/protocol";
import { parseKey, sha256Hex } from "../../src/keys/secret";
import { adminKey, call, createTenant, expectProblem, tenantKey } from "../helpers";

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

/**
 * Admits through the tenant's gate from a stub of its own: each stub stands for another isolate
 * (or colo) calling the same object at the same moment.
 */
async function admitFromIsolate(tenantId: string, key: { id: string; secret: string }) {
  const parsed = parseKey(key.secret);
  if (!parsed) throw new Error("bad key");
  const stub = env.TENANT_GATE.get(env.TENANT_GATE.idFromName(tenantId));
  const result = (await stub.admit({
    tenantId,
    keyId: key.id,
    secretHash: sha256Hex(parsed.secret),
    knownVersion: null,
    releases: [],
    write: false,
  })) as AdmitResult;
  if (result.admitted) await stub.release([{ leaseId: result.leaseId, outcomes: [] }]);
  return result.admitted ? "admitted" : result.problem;
}

/** A tenant whose gate already holds its copy (one key used once), and `count` keys created after. */
async function tenantWithNewKeys(count: number) {
  const tenant = await createTenant(admin);
  const first = await tenantKey(admin, tenant.id);
  expect((await call("/v1/ping", { key: first.secret })).status).toBe(200);
  const keys = [];
  for (let i = 0; i < count; i++) keys.push(await tenantKey(admin, tenant.id));
  return { tenant, first, keys };
}

describe("keys used for the first time at the same moment", () => {
  it("admits every one of six new keys used concurrently through the Worker", async () => {
    for (let round = 0; round < 5; round++) {
      const { keys } = await tenantWithNewKeys(6);
      const statuses = await Promise.all(keys.map(async (key) => (await call("/v1/ping", { key: key.secret })).status));
      expect(statuses, `round ${round}`).toEqual([200, 200, 200, 200, 200, 200]);
    }
  });

  it("admits every new key when several isolates ask the gate at once, its copy cold or warm", async () => {
    // Cold: the gate has never loaded this tenant.
    const cold = await createTenant(admin);
    const coldKeys = [];
    for (let i = 0; i < 8; i++) coldKeys.push(await tenantKey(admin, cold.id));
    expect(await Promise.all(coldKeys.map((key) => admitFromIsolate(cold.id, key)))).toEqual(
      coldKeys.map(() => "admitted"),
    );
    // Warm: the gate holds a copy with one key; eight more arrive together, the old one with them.
    const { tenant, first, keys } = await tenantWithNewKeys(8);
    const results = await Promise.all([first, ...keys].map((key) => admitFromIsolate(tenant.id, key)));
    expect(results).toEqual([first, ...keys].map(() => "admitted"));
  });

  it("still refuses revoked keys used concurrently, and an unknown key among new ones", async () => {
    const { tenant, first, keys } = await tenantWithNewKeys(6);
    for (const key of keys.slice(0, 3)) {
      const revoked = await call(`/v1/tenants/${tenant.id}/keys/${key.id}`, { method: "DELETE", key: first.secret });
      expect(revoked.status).toBe(200);
    }
    const unknown = { id: "key_01JD8X5Q3M2V7T6R4N9K0B1C2F", secret: keys[5]?.secret as string };
    const results = await Promise.all([...keys, unknown].map((key) => admitFromIsolate(tenant.id, key)));
    expect(results).toEqual([
      "invalid-api-key",
      "invalid-api-key",
      "invalid-api-key",
      "admitted",
      "admitted",
      "admitted",
      "invalid-api-key",
    ]);
    const statuses = await Promise.all(keys.map(async (key) => (await call("/v1/ping", { key: key.secret })).status));
    expect(statuses).toEqual([401, 401, 401, 200, 200, 200]);
  });

  it("keeps admitting new keys once the gate holds more than a D1 statement can name", {
    timeout: 60_000,
  }, async () => {
    // D1 binds at most 100 parameters per statement; the gate's copy holds up to 256 keys.
    const { tenant } = await tenantWithNewKeys(0);
    const keys = [];
    for (let i = 0; i < 140; i++) {
      const key = await tenantKey(admin, tenant.id);
      keys.push(key);
      expect((await call("/v1/ping", { key: key.secret })).status, `key ${i}`).toBe(200);
    }
    const late = [];
    for (let i = 0; i < 10; i++) late.push(await tenantKey(admin, tenant.id));
    const statuses = await Promise.all(late.map(async (key) => (await call("/v1/ping", { key: key.secret })).status));
    expect(statuses).toEqual(late.map(() => 200));
    const limits = await call(`/v1/tenants/${tenant.id}/limits`, { key: admin });
    expect(limits.json.stale).toBe(false);
    // The first keys are still in the copy and still work.
    expect((await call("/v1/ping", { key: keys[0]?.secret })).status).toBe(200);
  });

  it("applies a revocation told to the gate while a reload it cannot trust is under way", async () => {
    // The reload started by a new key's first use may have read the keys before the revocation
    // committed; the gate must reload again rather than settle for that answer.
    for (let round = 0; round < 10; round++) {
      const { tenant, first, keys } = await tenantWithNewKeys(1);
      const stub = env.TENANT_GATE.get(env.TENANT_GATE.idFromName(tenant.id));
      const reloading = admitFromIsolate(tenant.id, keys[0] as { id: string; secret: string });
      await env.CONTROL_DB.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ?").bind(Date.now(), first.id).run();
      await stub.invalidate(tenant.id);
      expect(await reloading).toBe("admitted");
      expectProblem(await call("/v1/ping", { key: first.secret }), 401, "invalid-api-key");
    }
  });
});
