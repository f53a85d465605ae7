import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { controlDb } from "../../src/db/client";
import { sweepRelay } from "../../src/events/relay";
import { quotaPeriod } from "../../src/gate/quota-period";
import { quotaTripped } from "../../src/quotas/service";
import { limitedTenant } from "../gate/fixture";
import { adminKey, call, createTenant, expectProblem, settled, tenantKey } from "../helpers";
import { keepSent, usageSettled } from "../usage/fixture";

const db = controlDb(env);
let admin: string;
beforeAll(async () => {
  admin = await adminKey();
  // A plan of this file's own: 2 API calls included, then volume tiers; one entry at most.
  const pricing = {
    currency: "eur",
    base_amount: 1500,
    meters: {
      api_calls: {
        included: 2,
        tiers_mode: "volume",
        tiers: [
          { up_to: 3, unit_amount_decimal: "100" },
          { up_to: null, unit_amount_decimal: "50", flat_amount: 7 },
        ],
      },
      entries_written: { tiers_mode: "graduated", tiers: [{ up_to: null, unit_amount_decimal: "0.5" }] },
    },
  };
  await env.CONTROL_DB.prepare(
    `INSERT INTO plans (tier, name, rate_limit_per_minute, max_concurrency, monthly_requests, max_entries,
      max_storage_bytes, dedicated_shard, created_at, pricing) VALUES ('METERED', 'Metered', 600, 20, 8, 1, NULL, 0, 0, ?)`,
  )
    .bind(JSON.stringify(pricing))
    .run();
});

const previewOf = async (tenantId: string, key = admin) => {
  const res = await call(`/v1/tenants/${tenantId}/invoice-preview`, { key });
  expect(res.status, res.text).toBe(200);
  return res.json;
};

describe("GET /v1/tenants/:id/invoice-preview", () => {
  it("prices the period's usage by the plan's tiers, in its currency's minor units, and shows the quotas", async () => {
    const tenant = await createTenant(admin, { tier: "METERED" });
    const key = (await tenantKey(admin, tenant.id)).secret;
    await keepSent(tenant.id);
    for (let i = 0; i < 5; i++) expect((await call("/v1/ping", { key })).status).toBe(200);
    const written = await call(`/v1/tenants/${tenant.id}/entries`, { method: "POST", key, body: { data: { a: 1 } } });
    expect(written.status).toBe(201);
    await usageSettled(tenant.id);
    const preview = await previewOf(tenant.id);
    const period = quotaPeriod(Date.now());
    expect(preview).toMatchObject({
      tenant_id: tenant.id,
      plan: { tier: "METERED", name: "Metered" },
      currency: "eur",
      period: { start: new Date(period.start).toISOString(), end: new Date(period.end).toISOString() },
    });
    // 6 calls, 2 included: 4 billable, all in the unbounded tier at 50 plus its flat 7.
    expect(preview.lines).toEqual([
      { type: "base", description: "Metered plan", amount: 1500 },
      {
        type: "usage",
        meter: "api_calls",
        description: "api_calls this period",
        quantity: 6,
        included: 2,
        billable: 4,
        tiers_mode: "volume",
        tiers: [{ up_to: null, quantity: 4, unit_amount_decimal: "50", flat_amount: 7, amount_decimal: "207" }],
        amount: 207,
      },
      {
        type: "usage",
        meter: "entries_written",
        description: "entries_written this period",
        quantity: 1,
        included: 0,
        billable: 1,
        tiers_mode: "graduated",
        tiers: [{ up_to: null, quantity: 1, unit_amount_decimal: "0.5", flat_amount: 0, amount_decimal: "0.5" }],
        amount: 1,
      },
    ]);
    expect(preview.subtotal).toBe(1500 + 207 + 1);
    expect(preview.total).toBe(preview.subtotal);
    expect(preview.quotas).toEqual([
      { quota: "monthly_requests", used: 6, limit: 8, percent: 75, exceeded: false, first_exceeded_at: null },
      { quota: "entries", used: 1, limit: 1, percent: 100, exceeded: true, first_exceeded_at: null },
      {
        quota: "stored_bytes",
        used: expect.any(Number),
        limit: null,
        percent: null,
        exceeded: false,
        first_exceeded_at: null,
      },
    ]);
  });

  it("emits quota.exceeded once per quota and period, however often it refuses", async () => {
    const { tenant, key } = await limitedTenant(admin, { monthly_requests: 3 }, "METERED");
    expect((await call(`/v1/tenants/${tenant.id}/entries`, { method: "POST", key, body: { data: {} } })).status).toBe(
      201,
    );
    // The plan holds one entry: the second and third are refused and trip the entries quota.
    for (let i = 0; i < 2; i++) {
      expectProblem(
        await call(`/v1/tenants/${tenant.id}/entries`, { method: "POST", key, body: { data: { i } } }),
        403,
        "storage-quota-exceeded",
      );
    }
    for (let i = 0; i < 3; i++) expectProblem(await call("/v1/ping", { key }), 429, "quota-exhausted");
    let trips: { quota: string }[] = [];
    for (let i = 0; i < 400 && trips.length < 2; i++) {
      await scheduler.wait(25);
      const { results } = await env.CONTROL_DB.prepare(
        "SELECT quota FROM quota_trips WHERE tenant_id = ? ORDER BY quota",
      )
        .bind(tenant.id)
        .all<{ quota: string }>();
      trips = results;
    }
    expect(trips.map((t) => t.quota)).toEqual(["entries", "monthly_requests"]);
    await sweepRelay(db, env);
    await settled(tenant.id);
    const feed = await call(`/v1/tenants/${tenant.id}/events?limit=100`, { key: admin });
    const events = feed.json.data.filter((event: { type: string }) => event.type === "quota.exceeded");
    expect(
      events.map((event: { data: { quota: string; limit: number } }) => [event.data.quota, event.data.limit]).sort(),
    ).toEqual([
      ["entries", 1],
      ["monthly_requests", 3],
    ]);
    const preview = await previewOf(tenant.id);
    const monthly = preview.quotas.find((q: { quota: string }) => q.quota === "monthly_requests");
    expect(monthly).toMatchObject({ used: 3, limit: 3, percent: 100, exceeded: true });
    expect(Date.parse(monthly.first_exceeded_at)).toBeLessThanOrEqual(Date.now());
  });

  it("records one trip and one event when many refusals race for the first", async () => {
    const tenant = await createTenant(admin);
    const firsts = await Promise.all(
      Array.from({ length: 10 }, () => quotaTripped(db, tenant.id, "stored_bytes", 100)),
    );
    expect(firsts.filter(Boolean)).toHaveLength(1);
    const { results } = await env.CONTROL_DB.prepare(
      "SELECT payload FROM outbox WHERE tenant_id = ? AND json_extract(payload, '$.type') = 'quota.exceeded'",
    )
      .bind(tenant.id)
      .all();
    expect(results).toHaveLength(1);
  });

  it("answers another tenant's key, a key without tenant:admin and an unknown id with problems", async () => {
    const tenant = await createTenant(admin);
    const other = await createTenant(admin);
    const reader = (await tenantKey(admin, tenant.id, ["entries:read"])).secret;
    const otherKey = (await tenantKey(admin, other.id)).secret;
    const path = `/v1/tenants/${tenant.id}/invoice-preview`;
    expectProblem(await call(path, { key: otherKey }), 404, "not-found");
    expectProblem(await call(path, { key: reader }), 403, "insufficient-scope");
    expectProblem(await call(path), 401, "unauthenticated");
    // A malformed id names no tenant, like an unknown one.
    expectProblem(await call("/v1/tenants/nope/invoice-preview", { key: admin }), 404, "not-found");
    // A seeded plan's preview: Standard's base price and nothing billable yet.
    const standard = await previewOf(tenant.id);
    expect(standard).toMatchObject({ currency: "usd", subtotal: 2900, total: 2900 });
    expect(standard.lines.filter((line: { amount: number }) => line.amount > 0)).toEqual([
      { type: "base", description: "Standard plan", amount: 2900 },
    ]);
  });
});
