import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { TenantGate } from "../../durable-objects/tenant-gate";
import { quotaPeriod } from "../../src/gate/quota-period";
import { adminKey, call, createTenant, expectProblem } from "../helpers";
import { gateStub, keyFor, limitedTenant, limitsOf, parseList, settled, travel } from "./fixture";

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});
afterEach(() => {
  vi.useRealTimers();
});

const ping = (key: string) => call("/v1/ping", { key });

describe("rate limits by tier", () => {
  it.each([
    ["FREE", 60],
    ["STANDARD", 600],
    ["ENTERPRISE", 6000],
  ])("gives a %s tenant %i requests per minute, in RateLimit-Policy and RateLimit", async (tier, limit) => {
    const tenant = await createTenant(admin, { tier });
    const key = await keyFor(admin, tenant.id);
    const res = await ping(key);
    expect(res.status).toBe(200);
    const policy = parseList(res.headers.get("RateLimit-Policy"));
    expect(policy.tenant).toEqual({ q: String(limit), w: "60" });
    const state = parseList(res.headers.get("RateLimit"));
    expect(state.tenant?.r).toBe(String(limit - 1));
    expect(Number(state.tenant?.t)).toBeGreaterThanOrEqual(59);
    expect(Number(state.tenant?.t)).toBeLessThanOrEqual(60);
    expect(res.headers.get("X-RateLimit-Limit")).toBe(String(limit));
    expect(res.headers.get("X-RateLimit-Remaining")).toBe(String(limit - 1));
    expect(res.headers.get("X-RateLimit-Reset")).toBe(state.tenant?.t);
  });

  it("describes the monthly quota as a policy whose window is the calendar month", async () => {
    const { key } = await limitedTenant(admin, { monthly_requests: 1000 });
    const res = await ping(key);
    const period = quotaPeriod(Date.now());
    expect(parseList(res.headers.get("RateLimit-Policy")).monthly).toEqual({
      q: "1000",
      w: String((period.end - period.start) / 1000),
    });
    expect(parseList(res.headers.get("RateLimit")).monthly?.r).toBe("999");
    // The legacy trio describes the per-minute policy, never the month.
    expect(res.headers.get("X-RateLimit-Limit")).toBe("600");
  });
});

describe("exactness", () => {
  it("admits exactly the limit out of a concurrent burst, and answers the rest 429 with Retry-After", async () => {
    const { tenant, key } = await limitedTenant(admin, { requests_per_minute: 25, max_concurrency: 10_000 });
    const results = await Promise.all(Array.from({ length: 120 }, () => ping(key)));
    const admitted = results.filter((r) => r.status === 200);
    const limited = results.filter((r) => r.status === 429);
    expect(admitted).toHaveLength(25);
    expect(limited).toHaveLength(95);
    for (const res of limited) {
      expectProblem(res, 429, "rate-limited");
      const retryAfter = Number(res.headers.get("Retry-After"));
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThanOrEqual(59);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(res.json.retry_after).toBe(retryAfter);
      expect(parseList(res.headers.get("RateLimit")).tenant?.r).toBe("0");
    }
    await settled(admin, tenant.id);
    const view = await limitsOf(admin, tenant.id);
    expect(view.rate_limits[0]).toMatchObject({ policy: "tenant", limit: 25, used: 25, remaining: 0 });
    expect(view.monthly_requests.used).toBe(25);
  });

  it("gives Retry-After exact to the second and admits again when the oldest request leaves the window", async () => {
    const { key } = await limitedTenant(admin, { requests_per_minute: 3 });
    expect((await ping(key)).status).toBe(200);
    travel(20_000);
    expect((await ping(key)).status).toBe(200);
    expect((await ping(key)).status).toBe(200);
    travel(10_500);
    const denied = await ping(key);
    expectProblem(denied, 429, "rate-limited");
    // The first request (30.5 s ago) leaves the 60 s window in 29.5 s: Retry-After rounds up.
    expect(denied.headers.get("Retry-After")).toBe("30");
    travel(29_400);
    expect((await ping(key)).status).toBe(429);
    travel(100);
    const admitted = await ping(key);
    expect(admitted.status).toBe(200);
    expect(parseList(admitted.headers.get("RateLimit")).tenant?.r).toBe("0");
    // Window rollover: a minute after the last burst, the whole quota is back.
    travel(60_000);
    expect(parseList((await ping(key)).headers.get("RateLimit")).tenant?.r).toBe("2");
  });

  it("applies a key's own limit on top of the tenant's, all-or-nothing", async () => {
    const { tenant } = await limitedTenant(admin, { requests_per_minute: 5 });
    const slow = await keyFor(admin, tenant.id, { rate_limit_per_minute: 2 });
    const other = await keyFor(admin, tenant.id);
    expect((await ping(slow)).status).toBe(200);
    const second = await ping(slow);
    expect(parseList(second.headers.get("RateLimit-Policy")).key).toEqual({ q: "2", w: "60" });
    expect(second.headers.get("X-RateLimit-Limit")).toBe("2");
    expect(second.headers.get("X-RateLimit-Remaining")).toBe("0");
    const denied = await ping(slow);
    expectProblem(denied, 429, "rate-limited");
    expect(denied.json.detail).toMatch(/key's limit of 2/);
    // The key's denial consumed nothing of the tenant's window: 3 more fit for another key.
    for (let i = 0; i < 3; i++) expect((await ping(other)).status).toBe(200);
    expectProblem(await ping(other), 429, "rate-limited");
    await settled(admin, tenant.id);
    const view = await limitsOf(admin, tenant.id);
    expect(view.rate_limits.find((r) => r.policy === "tenant")).toMatchObject({ used: 5 });
    expect(view.rate_limits.find((r) => r.policy.startsWith("key:"))).toMatchObject({ limit: 2, used: 2 });
  });
});

describe("monthly quota", () => {
  it("answers 429 quota-exhausted with Retry-After to the month's end, and resets at the period boundary", async () => {
    const { tenant, key } = await limitedTenant(admin, { monthly_requests: 3 });
    for (let i = 0; i < 3; i++) expect((await ping(key)).status).toBe(200);
    const denied = await ping(key);
    expectProblem(denied, 429, "quota-exhausted");
    const period = quotaPeriod(Date.now());
    const expected = Math.ceil((period.end - Date.now()) / 1000);
    expect(Math.abs(Number(denied.headers.get("Retry-After")) - expected)).toBeLessThanOrEqual(1);
    expect(denied.json).toMatchObject({ quota: 3, period: period.id, resets_at: new Date(period.end).toISOString() });
    expect(parseList(denied.headers.get("RateLimit")).monthly?.r).toBe("0");
    // A denied request consumes nothing: the per-minute window still counts 3.
    await settled(admin, tenant.id);
    expect((await limitsOf(admin, tenant.id)).rate_limits[0]?.used).toBe(3);

    travel(period.end - Date.now());
    const next = await ping(key);
    expect(next.status).toBe(200);
    expect(parseList(next.headers.get("RateLimit")).monthly?.r).toBe("2");
    const view = await limitsOf(admin, tenant.id);
    expect(view.monthly_requests).toMatchObject({ period: quotaPeriod(Date.now()).id, used: 1, limit: 3 });
  });

  it("counts nothing against an unlimited plan and sends no monthly policy", async () => {
    const { key } = await limitedTenant(admin, { monthly_requests: null }, "ENTERPRISE");
    const res = await ping(key);
    expect(parseList(res.headers.get("RateLimit-Policy")).monthly).toBeUndefined();
  });
});

describe("a restarted gate", () => {
  it("remembers its window and its month from storage", async () => {
    const { tenant, key } = await limitedTenant(admin, { requests_per_minute: 4, monthly_requests: 100 });
    for (let i = 0; i < 3; i++) expect((await ping(key)).status).toBe(200);
    // Admissions reach storage in batches at most 100 ms apart.
    await new Promise((r) => setTimeout(r, 250));
    const view = await runInDurableObject(gateStub(tenant.id), (_instance, state) =>
      // A fresh instance over the same storage is what a restart (deploy, crash) produces.
      new TenantGate(state, env).view(tenant.id),
    );
    expect(view.rate_limits[0]).toMatchObject({ used: 3, remaining: 1 });
    expect(view.monthly_requests.used).toBe(3);
  });
});

describe("platform-admin keys", () => {
  it("are not rate limited and carry no RateLimit fields", async () => {
    const res = await ping(admin);
    expect(res.status).toBe(200);
    expect(res.headers.get("RateLimit")).toBeNull();
  });
});
