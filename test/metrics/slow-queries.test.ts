import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { controlDb } from "../../src/db/client";
import type { Release } from "../../src/gate/protocol";
import { newId } from "../../src/http/ids";
import { storeSlowQueries } from "../../src/metrics/slow-queries";
import { gateStub } from "../gate/fixture";
import { adminKey, call, createTenant, expectProblem, listAll, tenantKey } from "../helpers";

const db = controlDb(env);
let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

/** A finished request of the tenant's whose shard calls took `ms` each, as the middleware reports one. */
const finished = (shardId: string, ms: number[]): Release => ({
  leaseId: null,
  outcomes: [
    {
      dependency: "shard",
      failed: false,
      probe: null,
      shardId,
      calls: ms.map((m, i) => ({ name: i % 2 ? "entries.get" : "entries.list", ms: m, failed: false })),
    },
  ],
  sample: {
    method: "GET",
    route: "/v1/tenants/:tenantId/entries",
    status: 200,
    ms: ms.reduce((a, b) => a + b, 0),
    bytes: 2,
    decision: "admitted",
  },
});

describe("the slow-query log", () => {
  it("keeps a shard's calls slower than SLOW_QUERY_MS, by store method, with the route and never arguments", async () => {
    const tenant = await createTenant(admin);
    const shardId = tenant.shard_id as string;
    const gate = gateStub(tenant.id);
    // Make the gate know its tenant's route, as its first request does.
    const key = (await tenantKey(admin, tenant.id)).secret;
    expect((await call("/v1/ping", { key })).status).toBe(200);
    await gate.release([finished(shardId, [812.5, 3, 499.99, 500])]);
    await gate.flushMetrics();
    const slow = (await listAll(`/v1/shards/${shardId}/slow-queries?tenant_id=${tenant.id}`, admin)).items;
    expect(
      slow.map(({ name, ms, failed, route, tenant_id, shard_id }) => ({
        name,
        ms,
        failed,
        route,
        tenant_id,
        shard_id,
      })),
    ).toEqual([
      {
        name: "entries.get",
        ms: 500,
        failed: false,
        route: "/v1/tenants/:tenantId/entries",
        tenant_id: tenant.id,
        shard_id: shardId,
      },
      {
        name: "entries.list",
        ms: 812.5,
        failed: false,
        route: "/v1/tenants/:tenantId/entries",
        tenant_id: tenant.id,
        shard_id: shardId,
      },
    ]);
    // A shard other than the one called has none of them.
    const elsewhere = await call(`/v1/shards/d1-shared-1/slow-queries?tenant_id=${tenant.id}`, { key: admin });
    expect(elsewhere.json.data.filter((row: { tenant_id: string }) => row.tenant_id === tenant.id)).toEqual([]);
  });

  it("keeps at most 60 a minute per tenant, and one of each however often the gate sends it", async () => {
    const tenant = await createTenant(admin);
    const shardId = tenant.shard_id as string;
    const key = (await tenantKey(admin, tenant.id)).secret;
    expect((await call("/v1/ping", { key })).status).toBe(200);
    const gate = gateStub(tenant.id);
    await gate.release([
      finished(
        shardId,
        Array.from({ length: 70 }, () => 900),
      ),
    ]);
    await gate.flushMetrics();
    const slow = (await listAll(`/v1/shards/${shardId}/slow-queries?tenant_id=${tenant.id}`, admin)).items;
    expect(slow).toHaveLength(60);
    const again = slow.slice(0, 5).map((row) => ({
      id: row.id,
      shardId,
      at: Date.parse(row.at),
      name: row.name,
      ms: row.ms,
      failed: 0,
      route: row.route,
    }));
    await storeSlowQueries(db, tenant.id, again);
    expect((await listAll(`/v1/shards/${shardId}/slow-queries?tenant_id=${tenant.id}`, admin)).items).toEqual(slow);
  });

  it("pages newest first", async () => {
    const tenant = await createTenant(admin);
    const calls = Array.from({ length: 5 }, (_, i) => ({
      id: newId("slq"),
      shardId: "d1-shared-1",
      at: Date.now() + i,
      name: `entries.call${i}`,
      ms: 600 + i,
      failed: i % 2,
      route: null,
    }));
    await storeSlowQueries(db, tenant.id, calls);
    const first = await call(`/v1/shards/d1-shared-1/slow-queries?tenant_id=${tenant.id}&limit=2`, { key: admin });
    expect(first.json.data.map((row: { name: string }) => row.name)).toEqual(["entries.call4", "entries.call3"]);
    expect(first.json.data[1].failed).toBe(true);
    const rest = await call(
      `/v1/shards/d1-shared-1/slow-queries?tenant_id=${tenant.id}&limit=10&cursor=${first.json.next_cursor}`,
      { key: admin },
    );
    expect(rest.json.data.map((row: { name: string }) => row.name)).toEqual([
      "entries.call2",
      "entries.call1",
      "entries.call0",
    ]);
    expect(rest.json.next_cursor).toBeNull();
  });

  it("answers an unknown shard, bad input and a tenant key with problems", async () => {
    const tenant = await createTenant(admin);
    const key = (await tenantKey(admin, tenant.id)).secret;
    expectProblem(await call("/v1/shards/no-such-shard/slow-queries", { key: admin }), 404, "not-found");
    expectProblem(await call("/v1/shards/NOT_A_SHARD/slow-queries", { key: admin }), 400, "validation-error");
    expectProblem(
      await call("/v1/shards/d1-shared-0/slow-queries?tenant_id=nope", { key: admin }),
      400,
      "validation-error",
    );
    expectProblem(await call("/v1/shards/d1-shared-0/slow-queries?limit=0", { key: admin }), 400, "validation-error");
    expectProblem(
      await call("/v1/shards/d1-shared-0/slow-queries?cursor=zzz", { key: admin }),
      400,
      "validation-error",
    );
    expectProblem(await call("/v1/shards/d1-shared-0/slow-queries", { key }), 403, "forbidden");
    expectProblem(await call("/v1/shards/d1-shared-0/slow-queries"), 401, "unauthenticated");
  });
});
