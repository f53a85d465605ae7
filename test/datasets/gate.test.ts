import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import type { TenantGate } from "../../durable-objects/tenant-gate";
import { exportGate, gateSummary, importGate, purgeGate, summarizeGate } from "../../src/datasets/gate";
import { gateState } from "../../src/gate/dataset";
import type { GateState } from "../../src/gate/protocol";
import { quotaPeriod } from "../../src/gate/quota-period";
import { gateStub, keyFor, limitedTenant, limitsOf, settled } from "../gate/fixture";
import { adminKey, call } from "../helpers";

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

const ping = (key: string) => call("/v1/ping", { key });

/** A tenant whose gate has admitted `requests` pings of a key with its own rate limit. */
async function busyTenant(requests: number) {
  const { tenant } = await limitedTenant(admin, { requests_per_minute: 50, monthly_requests: 1000 });
  const key = await keyFor(admin, tenant.id, { rate_limit_per_minute: 20 });
  for (let i = 0; i < requests; i++) expect((await ping(key)).status).toBe(200);
  await settled(admin, tenant.id);
  return { tenantId: tenant.id, key };
}

/** How many admissions the stored batches of each policy hold. */
function admissions(state: GateState): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const row of state.admissions ?? []) {
    const policy = String(row.policy).replace(/^key:.*/, "key");
    counts[policy] = (counts[policy] ?? 0) + (JSON.parse(String(row.times)) as number[]).length;
  }
  return counts;
}

const use = async (tenantId: string) => {
  const view = await limitsOf(admin, tenantId);
  return {
    month: view.monthly_requests.used,
    windows: view.rate_limits.map((limit) => [limit.policy.replace(/^key:.*/, "key"), limit.used]),
  };
};

describe("the gate's dataset", () => {
  it("is exported with pending admissions, purged to nothing, and imported back to the same use", async () => {
    const { tenantId, key } = await busyTenant(3);
    expect(await use(tenantId)).toEqual({
      month: 3,
      windows: [
        ["tenant", 3],
        ["key", 3],
      ],
    });

    const state = await exportGate(env, tenantId);
    expect(Object.keys(state)).toEqual([...gateState.storage]);
    expect(state.quota).toEqual([{ period: quotaPeriod(Date.now()).id, used: 3 }]);
    expect(admissions(state)).toEqual({ tenant: 3, key: 3 });
    expect(state.copy?.map((row) => row.name).sort()).toContain("route");
    const summary = summarizeGate(state);
    expect(summary.rows.quota).toBe(1);
    expect(await gateSummary(env, tenantId)).toEqual(summary);

    await purgeGate(env, tenantId);
    const empty = await exportGate(env, tenantId);
    expect(Object.values(empty).map((rows) => rows.length)).toEqual(gateState.storage.map(() => 0));
    expect(summarizeGate(empty).checksum).toBe(createHash("sha256").update("").digest("hex"));
    expect(await use(tenantId)).toEqual({ month: 0, windows: [["tenant", 0]] });

    await importGate(env, tenantId, state);
    expect(await gateSummary(env, tenantId)).toEqual(summary);
    expect(await use(tenantId)).toEqual({
      month: 3,
      windows: [
        ["tenant", 3],
        ["key", 3],
      ],
    });
    // And it counts on from there.
    expect((await ping(key)).status).toBe(200);
    await settled(admin, tenantId);
    expect(await use(tenantId)).toEqual({
      month: 4,
      windows: [
        ["tenant", 4],
        ["key", 4],
      ],
    });
  });

  it("replaces what the gate holds on import rather than adding to it", async () => {
    const { tenantId, key } = await busyTenant(2);
    const state = await exportGate(env, tenantId);
    for (let i = 0; i < 3; i++) expect((await ping(key)).status).toBe(200);
    await settled(admin, tenantId);
    expect((await use(tenantId)).month).toBe(5);

    await importGate(env, tenantId, state);
    expect(await use(tenantId)).toEqual({
      month: 2,
      windows: [
        ["tenant", 2],
        ["key", 2],
      ],
    });
  });

  it("brings back a move's fence, which a purge takes down", async () => {
    const { tenantId } = await busyTenant(1);
    const gate = gateStub(tenantId);
    expect(await gate.raiseFence("mov_dataset", 60_000, 0)).toMatchObject({ raised: true });
    const state = await exportGate(env, tenantId);
    expect(state.fence?.map((row) => row.move_id)).toEqual(["mov_dataset"]);

    await purgeGate(env, tenantId);
    expect(await gate.sealFence("mov_dataset", 1_000)).toBe(false);
    await importGate(env, tenantId, state);
    expect(await gate.sealFence("mov_dataset", 1_000)).toBe(true);
    expect(await gate.liftFence(tenantId, "mov_dataset")).toBe(true);
  });

  it("refuses a state of other tables or columns, and changes nothing then", async () => {
    const { tenantId } = await busyTenant(2);
    const state = await exportGate(env, tenantId);
    const { quota: _, ...partial } = state;
    const strayColumn = { ...state, quota: [{ period: "2030-01", used: 1, bonus: 7 }] };
    // Called in the object, not over RPC: the test runner reports a rejected RPC as unhandled
    // even when the test awaits it.
    await runInDurableObject(gateStub(tenantId), (gate: TenantGate) => {
      expect(() => gate.importState(partial)).toThrow(/a gate's state has the tables/);
      expect(() => gate.importState({ ...state, extra: [] })).toThrow(/a gate's state has the tables/);
      expect(() => gate.importState(strayColumn)).toThrow("gate table quota has no column bonus");
    });
    // The refused import wrote nothing: the tables it had emptied before the bad row are as they were.
    expect(summarizeGate(await exportGate(env, tenantId))).toEqual(summarizeGate(state));
    expect((await use(tenantId)).month).toBe(2);
  });

  it("declares every table the gate creates in its storage", async () => {
    const { tenantId } = await busyTenant(1);
    const tables = await runInDurableObject(gateStub(tenantId), (_, ctx) =>
      ctx.storage.sql
        .exec<{ name: string }>(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
        )
        .toArray()
        .map((row) => row.name),
    );
    expect(tables.sort()).toEqual([...gateState.storage].sort());
  });
});
