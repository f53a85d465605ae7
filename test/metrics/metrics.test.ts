import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { controlDb } from "../../src/db/client";
import { emptyCell, type MinuteRow, minuteOf, observe } from "../../src/metrics/cell";
import { storeMinutes, tierTotals } from "../../src/metrics/store";
import { gateStub, limitedTenant } from "../gate/fixture";
import { adminKey, call, createTenant, expectProblem, tenantKey, wrongSecret } from "../helpers";

const db = controlDb(env);
let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

/** Waits for the samples still riding in this isolate's release timers, then has the gate send them. */
async function flushed(tenantId: string) {
  await scheduler.wait(60);
  await gateStub(tenantId).flushMetrics();
}

const metricsOf = async (tenantId: string, key: string, window = "1h") => {
  const res = await call(`/v1/tenants/${tenantId}/metrics?window=${window}`, { key });
  expect(res.status, res.text).toBe(200);
  return res.json;
};

// The exposition's samples, read line by line: enough for our own output (no escapes in these
// label values). test/metrics/exposition.node.test.ts checks it with promtool and parses it back
// with Prometheus's own client library.
type Sample = { name: string; labels: Record<string, string>; value: number };
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
function samplesOf(text: string): Sample[] {
  return text
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const match = SAMPLE.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels = Object.fromEntries(
        [...(match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
      );
      return { name: match[1] as string, labels, value: Number(match[3]) };
    });
}
const scrape = async (key = admin) => {
  const res = await call("/metrics", { key });
  expect(res.status, res.text).toBe(200);
  expect(res.headers.get("Content-Type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return { text: res.text, samples: samplesOf(res.text) };
};
const named = (samples: Sample[], name: string) => samples.filter((sample) => sample.name === name);

describe("a tenant's request metrics", () => {
  it("counts every request of its keys by route template, status class and gate decision, exactly", async () => {
    const tenant = await createTenant(admin);
    const key = (await tenantKey(admin, tenant.id)).secret;
    for (let i = 0; i < 3; i++) {
      const res = await call(`/v1/tenants/${tenant.id}/entries`, { method: "POST", key, body: { data: { i } } });
      expect(res.status).toBe(201);
    }
    const listed = await call(`/v1/tenants/${tenant.id}/entries`, { key });
    const entryId = listed.json.data[0].id;
    await call(`/v1/tenants/${tenant.id}/entries/${entryId}`, { key });
    expectProblem(
      await call(`/v1/tenants/${tenant.id}/entries/ent_01JD8X5Q3M2V7T6R4N9K0B1C2D`, { key }),
      404,
      "not-found",
    );
    expectProblem(
      await call(`/v1/tenants/${tenant.id}/entries`, { method: "POST", key, body: { nope: 1 } }),
      400,
      "validation-error",
    );
    // Excluded paths and platform-admin requests are not the tenant's traffic.
    await call("/openapi.json", { key });
    await call("/metrics", { key });
    await call(`/v1/tenants/${tenant.id}/entries`, { key: admin });
    await flushed(tenant.id);

    const m = await metricsOf(tenant.id, admin);
    const routes = Object.fromEntries(
      m.routes.map((r: { method: string; route: string }) => [`${r.method} ${r.route}`, r]),
    );
    expect(routes["POST /v1/tenants/:tenantId/entries"]).toMatchObject({ requests: 4, errors: 0, client_errors: 1 });
    expect(routes["GET /v1/tenants/:tenantId/entries"]).toMatchObject({ requests: 1 });
    expect(routes["GET /v1/tenants/:tenantId/entries/:entryId"]).toMatchObject({ requests: 2, client_errors: 1 });
    expect(Object.keys(routes).some((route) => route.includes(tenant.id))).toBe(false);
    expect(m.requests).toBe(7);
    expect(m.status_classes).toEqual({ "2xx": 5, "3xx": 0, "4xx": 2, "5xx": 0 });
    expect(m.client_error_rate).toBeCloseTo(2 / 7, 10);
    expect(m.error_rate).toBe(0);
    expect(m.gate).toMatchObject({ admitted: 7, rate_limited: 0 });
    expect(m.latency_ms.p50).toBeGreaterThan(0);
    expect(m.latency_ms.p99).toBeGreaterThanOrEqual(m.latency_ms.p95);
    expect(m.response_bytes).toBeGreaterThan(0);
    // Each request's shard calls, by shard, under their own histogram.
    expect(m.shards).toEqual([expect.objectContaining({ shard_id: tenant.shard_id, errors: 0 })]);
    expect(m.shards[0].calls).toBeGreaterThanOrEqual(6);

    // The metrics GET itself (a tenant admin key) is traffic too: one more, on its own route.
    const again = await metricsOf(tenant.id, key);
    await flushed(tenant.id);
    const after = await metricsOf(tenant.id, admin);
    expect(after.requests).toBe(8);
    expect(again.requests).toBeGreaterThanOrEqual(7);
  });

  it("times a PostgreSQL tenant's shard calls under its own shard", async () => {
    const tenant = await createTenant(admin, { shard_id: "pg-0" });
    const key = (await tenantKey(admin, tenant.id)).secret;
    const entries = `/v1/tenants/${tenant.id}/entries`;
    expect((await call(entries, { method: "POST", key, body: { data: { on: "pg" } } })).status).toBe(201);
    expect((await call(entries, { key })).status).toBe(200);
    await flushed(tenant.id);
    const m = await metricsOf(tenant.id, admin);
    expect(m.shards).toEqual([expect.objectContaining({ shard_id: "pg-0", errors: 0 })]);
    expect(m.shards[0].calls).toBeGreaterThanOrEqual(2);
    expect(m.shards[0].latency_ms.p50).toBeGreaterThan(0);
  });

  it("counts the gate's refusals by decision", async () => {
    const { tenant, key } = await limitedTenant(admin, { requests_per_minute: 2 });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await call("/v1/ping", { key })).status);
    expect(statuses).toEqual([200, 200, 429, 429]);
    expectProblem(await call("/v1/ping", { key: wrongSecret(key) }), 401, "invalid-api-key");
    await flushed(tenant.id);
    const m = await metricsOf(tenant.id, admin);
    expect(m.gate).toEqual({
      admitted: 2,
      rate_limited: 2,
      quota_exhausted: 0,
      concurrency_limited: 0,
      circuit_open: 0,
      refused: 1,
    });
    expect(m.status_classes["4xx"]).toBe(3);
  });

  it("answers bad input, another tenant's key and a key without tenant:admin with problems", async () => {
    const tenant = await createTenant(admin);
    const other = await createTenant(admin);
    const reader = (await tenantKey(admin, tenant.id, ["entries:read"])).secret;
    const otherKey = (await tenantKey(admin, other.id)).secret;
    expectProblem(await call(`/v1/tenants/${tenant.id}/metrics?window=2h`, { key: admin }), 400, "validation-error");
    expectProblem(await call(`/v1/tenants/${tenant.id}/metrics`, { key: otherKey }), 404, "not-found");
    expectProblem(await call(`/v1/tenants/${tenant.id}/metrics`, { key: reader }), 403, "insufficient-scope");
    expectProblem(await call(`/v1/tenants/${tenant.id}/metrics`), 401, "unauthenticated");
  });
});

describe("sending a minute's cells", () => {
  const cellWith = (requests: number, ms: number) => {
    const cell = emptyCell();
    for (let i = 0; i < requests; i++) observe(cell, { status: 200, ms, bytes: 10 });
    return cell;
  };

  it("never counts a cell twice: sent again it adds nothing, sent with more it adds only the more", async () => {
    const tier = `TEST-${crypto.randomUUID().slice(0, 8)}`;
    const minute = minuteOf(Date.now());
    const row = (requests: number): MinuteRow => ({
      minute,
      tier,
      series: "request",
      label: "GET /x",
      cell: cellWith(requests, 7),
    });
    const totalOf = async () => (await tierTotals(db)).find((t) => t.tier === tier)?.cell;
    await storeMinutes(db, "ten_a", [row(3)]);
    await storeMinutes(db, "ten_a", [row(3)]);
    await Promise.all([storeMinutes(db, "ten_a", [row(3)]), storeMinutes(db, "ten_a", [row(3)])]);
    expect((await totalOf())?.count).toBe(3);
    await storeMinutes(db, "ten_a", [row(5)]);
    await storeMinutes(db, "ten_b", [row(2)]);
    const total = await totalOf();
    expect(total?.count).toBe(7);
    expect(total?.bytes).toBe(70);
    expect(total?.buckets[1]).toBe(7);
    expect(total?.sumMs).toBe(49);
  });
});

describe("GET /metrics", () => {
  it("is Prometheus text whose counters are the tenants' requests, histograms cumulative with +Inf = _count", async () => {
    const tenant = await createTenant(admin, { tier: "FREE" });
    const key = (await tenantKey(admin, tenant.id)).secret;
    const before = await scrape();
    const freeOk = (samples: Sample[]) =>
      named(samples, "edge_tenancy_requests_total")
        .filter((m) => m.labels.tier === "FREE" && m.labels.class === "2xx" && m.labels.route === "/v1/ping")
        .reduce((sum, m) => sum + m.value, 0);
    for (let i = 0; i < 5; i++) expect((await call("/v1/ping", { key })).status).toBe(200);
    await flushed(tenant.id);
    const { text, samples } = await scrape();
    expect(freeOk(samples) - freeOk(before.samples)).toBe(5);
    expect(text).toMatch(/^# HELP edge_tenancy_requests_total /m);
    expect(text).toMatch(/^# TYPE edge_tenancy_request_duration_seconds histogram$/m);
    // Every histogram series: cumulative buckets ending with +Inf, which equals its _count.
    const histograms = [...text.matchAll(/^# TYPE (\S+) histogram$/gm)].map((m) => m[1] as string);
    expect(histograms.length).toBeGreaterThanOrEqual(4);
    for (const name of histograms) {
      const series = new Map<string, Sample[]>();
      for (const sample of named(samples, `${name}_bucket`)) {
        const { le: _, ...rest } = sample.labels;
        const key = JSON.stringify(rest);
        series.set(key, [...(series.get(key) ?? []), sample]);
      }
      for (const [key, buckets] of series) {
        expect(buckets.at(-1)?.labels.le, `${name}${key} ends with +Inf`).toBe("+Inf");
        const counts = buckets.map((b) => b.value);
        expect(counts, `${name}${key} is cumulative`).toEqual([...counts].sort((a, b) => a - b));
        const count = named(samples, `${name}_count`).find((c) => JSON.stringify(c.labels) === key);
        expect(count?.value, `${name}${key} +Inf = _count`).toBe(buckets.at(-1)?.value);
      }
    }
    // The tenant is among the busiest of the last hour here, so it has series of its own.
    const own = named(samples, "edge_tenancy_tenant_requests_total").filter(
      (m) => m.labels.tenant === tenant.id && m.labels.class === "2xx",
    );
    expect(own.map((m) => m.value)).toEqual([5]);
  });

  it("takes a platform-admin key or the scraper token, nothing else", async () => {
    const tenant = await createTenant(admin);
    const key = (await tenantKey(admin, tenant.id)).secret;
    expectProblem(await call("/metrics"), 401, "unauthenticated");
    expectProblem(await call("/metrics", { key }), 403, "forbidden");
    expectProblem(await call("/metrics", { key: "not-the-token" }), 401, "invalid-api-key");
    const scraper = await call("/metrics", { key: env.METRICS_TOKEN });
    expect(scraper.status).toBe(200);
    expect(scraper.text).toContain("edge_tenancy_platform_requests_total");
  });

  it("gives at most METRICS_TOP_TENANTS tenants series of their own, however many there are", async () => {
    const minute = minuteOf(Date.now());
    const ids = Array.from({ length: 1000 }, (_, i) => `ten_CARD${String(i).padStart(22, "0")}`);
    for (let i = 0; i < ids.length; i += 50) {
      await Promise.all(
        ids
          .slice(i, i + 50)
          .map((id, j) =>
            storeMinutes(db, id, [
              { minute, tier: "STANDARD", series: "request", label: "GET /v1/ping", cell: cellOf(1000 + i + j) },
            ]),
          ),
      );
    }
    const { samples } = await scrape();
    const tenants = new Set(named(samples, "edge_tenancy_tenant_requests_total").map((m) => m.labels.tenant));
    expect(tenants.size).toBe(50);
    expect(named(samples, "edge_tenancy_metrics_tenants_reported")[0]?.value).toBe(50);
    // The busiest: the last fifty seeded, with the most requests.
    expect([...tenants].sort()).toEqual(ids.slice(-50));
  }, 120_000);
});

function cellOf(requests: number) {
  const cell = emptyCell();
  cell.count = requests;
  cell.s2xx = requests;
  cell.buckets[0] = requests;
  return cell;
}
