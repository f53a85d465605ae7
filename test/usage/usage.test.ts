import { createExecutionContext, createMessageBatch, createScheduledController, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { controlDb } from "../../src/db/client";
import { SCHEDULE, scheduled } from "../../src/jobs/scheduled";
import { consumeUsage } from "../../src/usage/consumer";
import { COUNTED, counted, GAUGED, gauged, HOUR_MS, type UsageRecord } from "../../src/usage/record";
import { applyUsage } from "../../src/usage/store";
import { waitForArchive } from "../archives/fixture";
import { limitsOf } from "../gate/fixture";
import { adminKey, call, createTenant, expectProblem, tenantKey, wrongSecret } from "../helpers";
import { keepSent, sentUsage, unsend, usageOf, usageSettled } from "./fixture";

const db = controlDb(env);
let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

const bytesOf = (text: string) => new TextEncoder().encode(text).byteLength;

/** Delivers records to the usage consumer directly, as the queue would (any order, any repeats). */
async function deliver(records: UsageRecord[]) {
  const batch = createMessageBatch(
    "edge-tenancy-usage",
    records.map((body, i) => ({ id: `m${i}-${crypto.randomUUID()}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await consumeUsage(batch, env);
  return getQueueResult(batch, ctx);
}

describe("usage metering", () => {
  it("equals the gate's own counts exactly: API calls, egress bytes, entries written, stored bytes", async () => {
    const tenant = await createTenant(admin);
    const key = (await tenantKey(admin, tenant.id)).secret;
    await keepSent(tenant.id);
    let egress = 0;
    const send = async (path: string, options: Parameters<typeof call>[1] = {}) => {
      const res = await call(path, { key, ...options });
      egress += bytesOf(res.text);
      return res;
    };
    const entries = `/v1/tenants/${tenant.id}/entries`;
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const res = await send(entries, { method: "POST", body: { data: { i, text: "x".repeat(100 * i) } } });
      expect(res.status).toBe(201);
      ids.push(res.json.id);
    }
    expect((await send(`${entries}/${ids[0]}`, { method: "PUT", body: { data: { replaced: true } } })).status).toBe(
      200,
    );
    expect((await send(`${entries}/${ids[1]}`, { method: "DELETE" })).status).toBe(204);
    expect((await send(entries)).status).toBe(200);
    // Admitted but refused by the handler: an API call that writes nothing.
    expect((await send(entries, { method: "POST", body: { nope: 1 } })).status).toBe(400);
    expect((await send(`${entries}/ent_01JD8X5Q3M2V7T6R4N9K0B1C2D`)).status).toBe(404);
    // Refused by the gate (a wrong key): not an API call of the tenant's.
    expect((await call("/v1/ping", { key: wrongSecret(key) })).status).toBe(401);

    await usageSettled(tenant.id);
    const limits = await limitsOf(admin, tenant.id);
    const usage = await usageOf(tenant.id, admin);
    expect(limits.monthly_requests.used).toBe(8);
    expect(usage.api_calls.total.quantity).toBe(limits.monthly_requests.used);
    expect(usage.entries_written.total.quantity).toBe(5);
    expect(usage.egress_bytes.total.quantity).toBe(egress);
    expect(usage.exports.total.quantity).toBe(0);
    // The gauge: the level the shard counts, read by the gate when it sent.
    expect(usage.stored_bytes.kind).toBe("gauge");
    expect(usage.stored_bytes.total.last).toBe(limits.storage.stored_bytes);
    expect(usage.stored_bytes.total.max).toBe(limits.storage.stored_bytes);
    // Every record is a CloudEvent naming the tenant.
    for (const record of await sentUsage(tenant.id)) {
      expect(record).toMatchObject({ specversion: "1.0", subject: tenant.id, datacontenttype: "application/json" });
      expect([COUNTED, GAUGED]).toContain(record.type);
    }
    // The hours add up to the month.
    const hourly = await usageOf(tenant.id, admin, "granularity=hour&meter=api_calls");
    const points = hourly.api_calls.points as { quantity: number }[];
    expect(points.reduce((sum, p) => sum + p.quantity, 0)).toBe(8);
  });

  it("meters a PostgreSQL tenant alike, its stored bytes read from its shard", async () => {
    const tenant = await createTenant(admin, { shard_id: "pg-0" });
    const key = (await tenantKey(admin, tenant.id)).secret;
    await keepSent(tenant.id);
    const entries = `/v1/tenants/${tenant.id}/entries`;
    for (let i = 0; i < 3; i++) {
      expect((await call(entries, { method: "POST", key, body: { data: { i, on: "postgres" } } })).status).toBe(201);
    }
    await usageSettled(tenant.id);
    const limits = await limitsOf(admin, tenant.id);
    const usage = await usageOf(tenant.id, admin);
    expect(usage.api_calls.total.quantity).toBe(limits.monthly_requests.used);
    expect(usage.entries_written.total.quantity).toBe(3);
    expect(limits.storage.stored_bytes).toBeGreaterThan(0);
    expect(usage.stored_bytes.total.last).toBe(limits.storage.stored_bytes);
  });

  it("counts a replayed flush and duplicated queue messages once", async () => {
    const tenant = await createTenant(admin);
    const key = (await tenantKey(admin, tenant.id)).secret;
    await keepSent(tenant.id);
    for (let i = 0; i < 4; i++) expect((await call("/v1/ping", { key })).status).toBe(200);
    await usageSettled(tenant.id);
    const before = await usageOf(tenant.id, admin);
    expect(before.api_calls.total.quantity).toBe(4);

    // The gate sends everything again, as after a restart that lost the confirmation.
    const sent = await sentUsage(tenant.id);
    expect(sent.length).toBeGreaterThan(0);
    await unsend(tenant.id, sent);
    await usageSettled(tenant.id);
    // The queue delivers each record twice more, out of order.
    const result = await deliver([...sent, ...[...sent].reverse()]);
    expect(result.explicitAcks.length).toBe(sent.length * 2);
    expect(result.retryMessages).toEqual([]);
    const after = await usageOf(tenant.id, admin);
    expect(after.api_calls.total).toEqual(before.api_calls.total);
    expect(after.egress_bytes.total).toEqual(before.egress_bytes.total);
    expect(after.stored_bytes.total).toEqual(before.stored_bytes.total);
  });

  it("counts each export made once", async () => {
    const tenant = await createTenant(admin);
    const key = (await tenantKey(admin, tenant.id)).secret;
    const started = await call(`/v1/tenants/${tenant.id}/exports`, { method: "POST", key });
    expect(started.status, started.text).toBe(202);
    const done = await waitForArchive<{ state: string }>(`/v1/tenants/${tenant.id}/exports/${started.json.id}`, key);
    expect(done.state).toBe("completed");
    const deadline = Date.now() + 10_000;
    let exports = 0;
    while (exports === 0 && Date.now() < deadline) {
      exports = (await usageOf(tenant.id, admin, "granularity=month&meter=exports")).exports.total.quantity;
      await scheduler.wait(20);
    }
    expect(exports).toBe(1);
  });

  it("drops a purged tenant's late records and dead-letters what is no usage record", async () => {
    const tenant = await createTenant(admin);
    expect((await call(`/v1/tenants/${tenant.id}?hard=true`, { method: "DELETE", key: admin })).status).toBe(202);
    const hour = Date.now() - (Date.now() % HOUR_MS);
    const late = counted(`use_late_${crypto.randomUUID()}`, tenant.id, "/test", Date.now(), "api_calls", hour, 5);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const row = await env.CONTROL_DB.prepare("SELECT purge_started_at AS p FROM tenants WHERE id = ?")
        .bind(tenant.id)
        .first<{ p: number | null }>();
      if (row === null || row.p !== null) break;
      await scheduler.wait(20);
    }
    // Of a live tenant: a purged one's dead letters are purged with it.
    const live = await createTenant(admin);
    const invalid = { specversion: "1.0", type: COUNTED, id: `bad-${crypto.randomUUID()}`, subject: live.id };
    const result = await deliver([late, invalid as never]);
    expect(result.explicitAcks.length).toBe(2);
    const applied = await env.CONTROL_DB.prepare("SELECT count(*) AS n FROM usage_hourly WHERE tenant_id = ?")
      .bind(tenant.id)
      .first<{ n: number }>();
    expect(applied?.n).toBe(0);
    const until = Date.now() + 10_000;
    let letter = null;
    while (letter === null && Date.now() < until) {
      letter = await env.CONTROL_DB.prepare("SELECT id, source FROM dead_letters WHERE body LIKE ?")
        .bind(`%${invalid.id}%`)
        .first<{ id: string; source: string }>();
      await scheduler.wait(20);
    }
    expect(letter?.source).toBe("usage");
    // Replayed, it goes back to the usage queue.
    const replayed = await call(`/v1/admin/dead-letters/${letter?.id}/replay`, { method: "POST", key: admin });
    expect(replayed.status, replayed.text).toBe(200);
    expect(replayed.json).toMatchObject({ source: "usage", replays: 1 });
  });
});

describe("the daily aggregation", () => {
  const day = Date.UTC(2026, 5, 10);
  const record = (tenantId: string, hour: number, quantity: number) =>
    counted(
      `use_${crypto.randomUUID()}`,
      tenantId,
      "/test",
      day + hour * HOUR_MS,
      "api_calls",
      day + hour * HOUR_MS,
      quantity,
    );

  it("runs at 01:00 for the day before, sets the same rows however often it runs, and agrees with the hours", async () => {
    const tenant = await createTenant(admin);
    const gauge = (hour: number, avg: number, max: number, last: number, coveredMs = HOUR_MS) =>
      gauged(`use_${crypto.randomUUID()}`, tenant.id, "/test", day + hour * HOUR_MS + 1, "stored_bytes", {
        hour: day + hour * HOUR_MS,
        avg,
        max,
        last,
        coveredMs,
      });
    await applyUsage(db, [
      record(tenant.id, 1, 5),
      record(tenant.id, 13, 7),
      gauge(0, 100, 150, 120),
      // A later statement of the same hour replaces the earlier; an older one coming later does not.
      gauge(5, 300, 300, 300),
      gauged(`use_${crypto.randomUUID()}`, tenant.id, "/test", day + 5 * HOUR_MS, "stored_bytes", {
        hour: day + 5 * HOUR_MS,
        avg: 999,
        max: 999,
        last: 999,
        coveredMs: HOUR_MS,
      }),
    ]);
    const ctx = createExecutionContext();
    const at = day + 86_400_000 + HOUR_MS;
    for (let run = 0; run < 2; run++) {
      await scheduled(createScheduledController({ cron: SCHEDULE.daily.cron, scheduledTime: at }), env, ctx);
      const deadline = Date.now() + 15_000;
      for (;;) {
        const row = await env.CONTROL_DB.prepare("SELECT count(*) AS n FROM usage_daily WHERE tenant_id = ?")
          .bind(tenant.id)
          .first<{ n: number }>();
        if (row?.n === 2 || Date.now() > deadline) break;
        await scheduler.wait(50);
      }
    }
    const { results } = await env.CONTROL_DB.prepare(
      "SELECT meter, quantity, max, last, covered_ms FROM usage_daily WHERE tenant_id = ? AND day = ? ORDER BY meter",
    )
      .bind(tenant.id, day)
      .all();
    // Hours 0–4 at 120 after hour 0 (avg 100), hours 5–23 at 300: (100 + 4·120 + 19·300) / 24.
    expect(results).toEqual([
      { meter: "api_calls", quantity: 12, max: null, last: null, covered_ms: null },
      { meter: "stored_bytes", quantity: (100 + 4 * 120 + 19 * 300) / 24, max: 300, last: 300, covered_ms: 86_400_000 },
    ]);
    const range = `from=${new Date(day).toISOString()}&to=${new Date(day + 86_400_000).toISOString()}`;
    const daily = await usageOf(tenant.id, admin, `granularity=day&${range}`);
    expect(daily.api_calls.points).toEqual([
      {
        start: new Date(day).toISOString(),
        end: new Date(day + 86_400_000).toISOString(),
        quantity: 12,
        max: null,
        last: null,
      },
    ]);
    const hourly = await usageOf(tenant.id, admin, `granularity=hour&${range}`);
    expect(hourly.api_calls.points).toHaveLength(24);
    expect(hourly.api_calls.total.quantity).toBe(12);
    expect(hourly.stored_bytes.total.quantity).toBeCloseTo(daily.stored_bytes.total.quantity, 9);
    // The gauge's level carries through hours with no statement.
    expect(hourly.stored_bytes.points[3]).toMatchObject({ quantity: 120, max: 120, last: 120 });
  });
});

describe("GET /v1/tenants/:id/usage", () => {
  it("refuses bad input, another tenant's key and a key without tenant:admin", async () => {
    const tenant = await createTenant(admin);
    const other = await createTenant(admin);
    const reader = (await tenantKey(admin, tenant.id, ["entries:read"])).secret;
    const otherKey = (await tenantKey(admin, other.id)).secret;
    const path = `/v1/tenants/${tenant.id}/usage`;
    expectProblem(await call(`${path}?meter=cpu_ms`, { key: admin }), 400, "validation-error");
    expectProblem(await call(`${path}?granularity=week`, { key: admin }), 400, "validation-error");
    expectProblem(await call(`${path}?from=yesterday`, { key: admin }), 400, "validation-error");
    const backwards = await call(`${path}?from=2026-06-02T00:00:00Z&to=2026-06-01T00:00:00Z`, { key: admin });
    expectProblem(backwards, 400, "validation-error");
    expect(backwards.json.errors[0].path).toBe("query.to");
    const tooMany = await call(`${path}?granularity=hour&from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z`, {
      key: admin,
    });
    expectProblem(tooMany, 400, "validation-error");
    expectProblem(await call(path, { key: otherKey }), 404, "not-found");
    expectProblem(await call(path, { key: reader }), 403, "insufficient-scope");
    expectProblem(await call(path), 401, "unauthenticated");
  });
});
