import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { DEFAULT_CIRCUIT } from "../../src/gate/circuit-breaker";
import { adminKey, call, captureConsole, expectProblem, shardBinding } from "../helpers";
import { gateStub, limitedTenant, limitsOf, settled, travel } from "./fixture";

// Breaks tenants' shards on purpose (storage is isolated per test file).

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});
captureConsole("error");
afterEach(() => {
  vi.useRealTimers();
});

async function brokenShard(shardId: string | null, run: () => Promise<void>) {
  const shard = await shardBinding(shardId);
  await shard.exec("ALTER TABLE entries RENAME TO entries_offline");
  try {
    await run();
  } finally {
    await shard.exec("ALTER TABLE entries_offline RENAME TO entries");
  }
}

async function setup() {
  // Breaks its shard by renaming a D1 table, so it needs a D1 shard.
  const { tenant, key } = await limitedTenant(
    admin,
    { requests_per_minute: 10_000, max_concurrency: 100 },
    "STANDARD",
    {
      shard_id: "d1-shared-0",
    },
  );
  const entries = `/v1/tenants/${tenant.id}/entries`;
  const circuit = async () => (await limitsOf(admin, tenant.id)).circuits.shard;
  /** Sends n requests one after another, each recorded before the next is sent. */
  const fail = async (n: number) => {
    for (let i = 0; i < n; i++) {
      expect((await call(entries, { key })).status).toBe(500);
      await settled(admin, tenant.id);
    }
  };
  return { tenant, key, entries, circuit, fail };
}

describe("the shard circuit breaker", () => {
  it("stays closed below the minimum number of calls, then opens at a 50 % failure rate", async () => {
    const { tenant, key, entries, circuit, fail } = await setup();
    // 10 successes then 10 failures: 20 calls at exactly 50 %.
    for (let i = 0; i < 10; i++) expect((await call(entries, { key })).status).toBe(200);
    await settled(admin, tenant.id);
    await brokenShard(tenant.shard_id, async () => {
      await fail(9);
      expect(await circuit()).toMatchObject({ state: "closed", calls: 19, failures: 9 });
      await fail(1);
      const open = await circuit();
      expect(open).toMatchObject({ state: "open", calls: 20, failures: 10, failure_rate: 0.5 });
      expect(open?.retry_after_seconds).toBe(30);

      // While open: 503 at once, without calling the shard, for tenant keys and admins alike.
      const paused = await call(entries, { key });
      expectProblem(paused, 503, "circuit-open");
      expect(paused.headers.get("Retry-After")).toBe("30");
      expect(paused.json).toMatchObject({ dependency: "shard", retry_after: 30 });
      expectProblem(await call(entries, { key: admin }), 503, "circuit-open");
      // Routes that do not touch the shard are unaffected.
      expect((await call("/v1/ping", { key })).status).toBe(200);
    });
  });

  it("goes half-open after 30 s, lets a bounded number of probes through, and closes when they succeed", async () => {
    const { tenant, key, entries, circuit, fail } = await setup();
    await brokenShard(tenant.shard_id, () => fail(DEFAULT_CIRCUIT.minimumCalls));
    expect((await circuit())?.state).toBe("open");

    travel(29_000);
    const stillOpen = await call(entries, { key });
    expectProblem(stillOpen, 503, "circuit-open");
    expect(stillOpen.headers.get("Retry-After")).toBe("1");
    travel(1_000);
    expect((await circuit())?.state).toBe("half_open");

    // Every probe slot taken and none reported yet: further calls are refused.
    const gate = gateStub(tenant.id);
    const held = [];
    for (let i = 0; i < DEFAULT_CIRCUIT.halfOpenProbes - 1; i++) held.push(await gate.permit("shard"));
    expect(held.every((p) => p.permitted)).toBe(true);
    expect((await call(entries, { key })).status).toBe(200); // the last probe, succeeding
    await settled(admin, tenant.id);
    expectProblem(await call(entries, { key }), 503, "circuit-open");

    // The held probes report success: the circuit closes with an empty window.
    await gate.record(
      held.map((p) => ({ dependency: "shard" as const, failed: false, probe: p.permitted ? p.probe : null })),
    );
    expect(await circuit()).toMatchObject({ state: "closed", calls: 0 });
    expect((await call(entries, { key })).status).toBe(200);
  });

  it("opens again, for another 30 s, when the probes fail", async () => {
    const { tenant, key, entries, circuit, fail } = await setup();
    await brokenShard(tenant.shard_id, async () => {
      await fail(DEFAULT_CIRCUIT.minimumCalls);
      travel(30_000);
      // ceil(5 probes × 50 %) = 3 failed probes decide it.
      await fail(3);
      const reopened = await circuit();
      expect(reopened).toMatchObject({ state: "open", retry_after_seconds: 30 });
      expect(Date.parse(reopened?.opened_at ?? "")).toBeGreaterThan(Date.now() - 1_000);
      expectProblem(await call(entries, { key }), 503, "circuit-open");
    });
  });

  it("counts a probe that never reports as failed once its time is up", async () => {
    const { tenant, circuit, fail } = await setup();
    await brokenShard(tenant.shard_id, () => fail(DEFAULT_CIRCUIT.minimumCalls));
    travel(DEFAULT_CIRCUIT.openMs);
    const gate = gateStub(tenant.id);
    for (let i = 0; i < 3; i++) expect((await gate.permit("shard")).permitted).toBe(true);
    expect((await circuit())?.state).toBe("half_open");
    travel(DEFAULT_CIRCUIT.probeTimeoutMs);
    expect((await circuit())?.state).toBe("open");
  });

  it("counts domain answers (404, 412, validation) as successes of the shard", async () => {
    const { tenant, key, entries, circuit } = await setup();
    for (let i = 0; i < DEFAULT_CIRCUIT.minimumCalls; i++) {
      expect((await call(`${entries}/ent_01M84000000000000000000000`, { key })).status).toBe(404);
    }
    await settled(admin, tenant.id);
    expect(await circuit()).toMatchObject({ state: "closed", failures: 0 });
  });

  it("can be reset by the tenant's admin", async () => {
    const { tenant, key, entries, circuit, fail } = await setup();
    await brokenShard(tenant.shard_id, () => fail(DEFAULT_CIRCUIT.minimumCalls));
    expect((await circuit())?.state).toBe("open");
    const reset = await call(`/v1/tenants/${tenant.id}/limits/reset`, {
      method: "POST",
      key,
      body: { scopes: ["circuits"] },
    });
    expect(reset.status).toBe(200);
    expect(reset.json.circuits).toEqual({});
    expect((await call(entries, { key })).status).toBe(200);
  });
});
