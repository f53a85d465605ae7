import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { TenantGate } from "../../durable-objects/tenant-gate";
import { controlDb } from "../../src/db/client";
import type { Release } from "../../src/gate/protocol";
import { tenantFigures } from "../../src/metrics/store";
import { gateStub } from "../gate/fixture";
import { adminKey, call, createTenant, tenantKey } from "../helpers";

const db = controlDb(env);
let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

const sample = (status: number, ms: number): Release => ({
  leaseId: null,
  outcomes: [],
  sample: { method: "GET", route: "/v1/x", status, ms, bytes: 100, decision: "admitted" },
});

const requestsOf = async (tenantId: string) =>
  (await tenantFigures(db, tenantId, 0, Date.now() + 120_000)).find(
    (row) => row.series === "request" && row.label === "GET /v1/x",
  )?.cell;

/** A gate that knows its tenant (it learns it from the tenant's first request). */
async function knownGate() {
  const tenant = await createTenant(admin);
  const key = (await tenantKey(admin, tenant.id)).secret;
  expect((await call("/v1/ping", { key })).status).toBe(200);
  await scheduler.wait(60);
  const stub = gateStub(tenant.id);
  await stub.flushMetrics();
  expect(await requestsOf(tenant.id)).toBeUndefined();
  return { tenant, stub };
}

describe("the gate's metric cells", () => {
  it("are sent by the alarm a minute's end sets", async () => {
    const { tenant, stub } = await knownGate();
    await runInDurableObject(stub, (gate: TenantGate) => gate.release([sample(200, 3), sample(503, 40)]));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const cell = await requestsOf(tenant.id);
    expect(cell?.count).toBe(2);
    expect(cell?.s5xx).toBe(1);
  });

  it("survive a restart before they were sent, and are sent once", async () => {
    const { tenant, stub } = await knownGate();
    await runInDurableObject(stub, async (gate: TenantGate, state) => {
      gate.release([sample(200, 3), sample(200, 7), sample(404, 2)]);
      // What a restart does: memory dropped, everything read back from storage.
      gate.importState(gate.exportState());
      expect(state.storage.sql.exec("SELECT count(*) AS n FROM metric_cells WHERE sent = 0").one().n).toBeGreaterThan(
        0,
      );
    });
    await stub.flushMetrics();
    await stub.flushMetrics();
    const cell = await requestsOf(tenant.id);
    expect(cell?.count).toBe(3);
    expect(cell?.s4xx).toBe(1);
  });

  it("keep nothing of a deleted tenant, whose refusals would outlive its purge", async () => {
    const { tenant, stub } = await knownGate();
    const deleted = await call(`/v1/tenants/${tenant.id}`, { method: "DELETE", key: admin });
    expect(deleted.status, deleted.text).toBe(202);
    await runInDurableObject(stub, async (gate: TenantGate) => {
      await gate.invalidate(tenant.id);
      gate.release([sample(401, 1)]);
    });
    await stub.flushMetrics();
    expect(await requestsOf(tenant.id)).toBeUndefined();
  });
});
