import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { controlDb } from "../../src/db/client";
import { checkFlagGuards } from "../../src/flags/guard";
import { emptyCell, MINUTE_MS, minuteOf, observe } from "../../src/metrics/cell";
import { storeMinutes } from "../../src/metrics/store";
import { adminKey, call, createTenant, settled, tenantKey } from "../helpers";

// The guard reads the minutes tenants' gates send; here they are stored through the same writer
// the gates' sends go through, with figures chosen for each case, in minutes after the flag's
// definition (only those count), and each check runs as the minute cron would at `at`.
// Checks at past moments see what was sent by then.

const db = controlDb(env);
let counter = 0;
const flagKey = () => `guarded-${Date.now().toString(36)}-${counter++}`;

/** `requests` requests of the tenant in the minute `minute`, `errors` of them 5xx, each taking `ms`. */
async function traffic(tenantId: string, minute: number, requests: number, errors: number, ms = 20) {
  const cell = emptyCell();
  for (let i = 0; i < requests; i++) observe(cell, { status: i < errors ? 503 : 200, ms, bytes: 10 });
  await storeMinutes(db, tenantId, [{ minute, tier: "STANDARD", series: "request", label: "GET /v1/ping", cell }]);
}

async function setup(guard: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const admin = await adminKey();
  const tenant = await createTenant(admin);
  const key = (await tenantKey(admin, tenant.id)).secret;
  const flag = flagKey();
  const res = await call("/v1/flags", {
    method: "POST",
    key: admin,
    body: { key: flag, type: "boolean", default_value: false, rollout: { percentage: 50 }, guard, ...extra },
  });
  expect(res.status, res.text).toBe(201);
  // Defined half an hour ago (as if), so that the minutes counted, which follow the definition's,
  // are past minutes, as the gates' sends are.
  await env.CONTROL_DB.prepare("UPDATE flags SET updated_at = updated_at - ? WHERE key = ?")
    .bind(30 * MINUTE_MS, flag)
    .run();
  const first = minuteOf(Date.now()) - 10 * MINUTE_MS;
  return { admin, tenant, key, flag, first };
}

/**
 * The rollbacks a check made of `flag` for `tenantId`: the file's tests share the database, and a
 * platform flag guards every tenant (another test's bad minutes roll it back there too).
 */
const checked = async (flag: string, tenantId: string, at: number) =>
  (await checkFlagGuards(db, at)).filter((rollback) => rollback.flag === flag && rollback.tenantId === tenantId);

const evaluated = (tenantId: string, key: string, flag: string, targetingKey: string) =>
  call(`/v1/tenants/${tenantId}/flags/evaluate`, { method: "POST", key, body: { flag, context: { targetingKey } } });

/** A subject in a 50 % rollout of `flag` (its bucket ≤ 50). */
async function subjectIn(tenantId: string, key: string, flag: string) {
  for (let i = 0; ; i++) {
    const res = await evaluated(tenantId, key, flag, `user-${i}`);
    if (res.json.value === true) return `user-${i}`;
  }
}

describe("a flag's guard", () => {
  it("rolls the tenant's rollout back to 0 when its error rate is over the limit: an override, flag.rolled_back, an audit record", async () => {
    const { admin, tenant, key, flag, first } = await setup({
      error_rate_percent: 10,
      window_minutes: 5,
      min_requests: 20,
    });
    const other = await createTenant(admin);
    const subject = await subjectIn(tenant.id, key, flag);
    await traffic(tenant.id, first, 60, 9);
    await traffic(tenant.id, first + MINUTE_MS, 40, 6);
    // The other tenant's requests are fine.
    await traffic(other.id, first, 100, 1);
    const at = first + 3 * MINUTE_MS;
    expect(await checked(flag, tenant.id, at)).toEqual([{ flag, tenantId: tenant.id }]);

    const view = await call(`/v1/tenants/${tenant.id}/flags/${flag}`, { key });
    expect(view.json.effective.rollout.percentage).toBe(0);
    expect((await evaluated(tenant.id, key, flag, subject)).json).toMatchObject({ value: false, reason: "DEFAULT" });
    const row = await env.CONTROL_DB.prepare(
      "SELECT rolled_back FROM flag_overrides WHERE tenant_id = ? AND flag_key = ?",
    )
      .bind(tenant.id, flag)
      .first<{ rolled_back: string }>();
    expect(JSON.parse(row?.rolled_back ?? "null")).toMatchObject({
      metric: "error_rate_percent",
      observed: 15,
      threshold: 10,
      requests: 100,
    });

    await settled(tenant.id);
    const events = await call(`/v1/tenants/${tenant.id}/events?limit=100`, { key: admin });
    const rolled = events.json.data.filter((e: { type: string }) => e.type === "flag.rolled_back");
    expect(rolled).toHaveLength(1);
    expect(rolled[0]).toMatchObject({
      subject: { type: "flag", id: flag },
      actor: { type: "system", id: "flag-guard" },
    });
    const trail = await call(`/v1/tenants/${tenant.id}/audit?action=flag.rolled_back`, { key: admin });
    expect(trail.json.data).toHaveLength(1);
    expect((await call(`/v1/tenants/${other.id}/flags/${flag}`, { key: admin })).json.override).toBeNull();
  });

  it("never flaps: it stays rolled back, and after a person re-raises it only later minutes can trip it again", async () => {
    const { tenant, key, flag, first } = await setup({ error_rate_percent: 10, window_minutes: 10, min_requests: 20 });
    await traffic(tenant.id, first, 100, 50);
    const at = first + 2 * MINUTE_MS;
    expect(await checked(flag, tenant.id, at)).toHaveLength(1);
    // Nothing rolled out is left to take back; the same bad minutes change nothing.
    expect(await checked(flag, tenant.id, at + MINUTE_MS)).toEqual([]);

    // The tenant's admin re-raises it; the minutes that tripped it no longer count.
    const raised = await call(`/v1/tenants/${tenant.id}/flags/${flag}`, {
      method: "PUT",
      key,
      body: { rollout: { percentage: 50 } },
    });
    expect(raised.status).toBe(200);
    const after = minuteOf(Date.now()) + MINUTE_MS;
    expect(await checked(flag, tenant.id, after + MINUTE_MS)).toEqual([]);
    // Healthy minutes since: still nothing.
    await traffic(tenant.id, after, 100, 2);
    expect(await checked(flag, tenant.id, after + 2 * MINUTE_MS)).toEqual([]);
    // New bad minutes trip it again.
    await traffic(tenant.id, after + MINUTE_MS, 100, 40);
    expect(await checked(flag, tenant.id, after + 3 * MINUTE_MS)).toEqual([{ flag, tenantId: tenant.id }]);
  });

  it("ignores windows with fewer than min_requests requests, and figures under the limit", async () => {
    const { tenant, flag, first } = await setup({ error_rate_percent: 10, window_minutes: 5, min_requests: 50 });
    await traffic(tenant.id, first, 30, 30);
    expect(await checked(flag, tenant.id, first + MINUTE_MS)).toEqual([]);
    await traffic(tenant.id, first + MINUTE_MS, 70, 0);
    // 100 requests, 30 % errors from the first minute: over the limit now that there are enough.
    expect(await checked(flag, tenant.id, first + 2 * MINUTE_MS)).toEqual([{ flag, tenantId: tenant.id }]);
    const fine = await setup({ error_rate_percent: 10, window_minutes: 5, min_requests: 20 });
    await traffic(fine.tenant.id, fine.first, 100, 10);
    expect(await checked(fine.flag, fine.tenant.id, fine.first + MINUTE_MS)).toEqual([]);
  });

  it("on p99 latency, moves everyone in the rollout to the fallback variant", async () => {
    const { tenant, key, flag, first } = await setup(
      { p99_ms: 200, window_minutes: 5, min_requests: 20 },
      {
        type: "string",
        default_value: "old",
        rollout: { percentage: 100 },
        variants: [
          { name: "old", weight: 50, value: "old" },
          { name: "new", weight: 50, value: "new" },
        ],
        fallback_variant: "old",
      },
    );
    await traffic(tenant.id, first, 50, 0, 900);
    expect(await checked(flag, tenant.id, first + MINUTE_MS)).toEqual([{ flag, tenantId: tenant.id }]);
    for (let i = 0; i < 20; i++) {
      expect((await evaluated(tenant.id, key, flag, `user-${i}`)).json).toMatchObject({ value: "old", variant: "old" });
    }
  });

  it("is refused when it names no limit or a fallback variant that is not one", async () => {
    const admin = await adminKey();
    for (const body of [
      { guard: { window_minutes: 5 } },
      { guard: { error_rate_percent: 150 } },
      { guard: { p99_ms: 100, window_minutes: 0 } },
    ]) {
      const res = await call("/v1/flags", {
        method: "POST",
        key: admin,
        body: { key: flagKey(), type: "boolean", default_value: false, ...body },
      });
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    const res = await call("/v1/flags", {
      method: "POST",
      key: admin,
      body: { key: flagKey(), type: "boolean", default_value: false, fallback_variant: "none" },
    });
    expect(res.status).toBe(422);
  });
});
