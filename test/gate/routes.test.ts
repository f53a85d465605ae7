import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { beforeAll, describe, expect, it } from "vitest";
import type { AppEnv } from "../../src/env";
import { onError } from "../../src/http/on-error";
import { resolveRoute } from "../../src/routing/resolve";
import type { TenantRoute } from "../../src/routing/route";
import { tenantShard } from "../../src/shards/middleware";
import { adminKey, call, createTenant, errorPaths, expectProblem, tenantKey } from "../helpers";
import { keyFor, limitedTenant, limitsOf, settled } from "./fixture";

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

describe("GET /v1/tenants/:tenantId/limits", () => {
  it("shows windows, quota, concurrency, circuits and storage to the tenant's admin", async () => {
    const { tenant, key } = await limitedTenant(admin, { requests_per_minute: 50, monthly_requests: 500 });
    await call(`/v1/tenants/${tenant.id}/entries`, { method: "POST", key, body: { data: { a: 1 }, tags: [] } });
    await settled(admin, tenant.id);
    const res = await call(`/v1/tenants/${tenant.id}/limits`, { key });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      tenant_id: tenant.id,
      tier: "STANDARD",
      stale: false,
      monthly_requests: { limit: 500 },
      concurrency: { limit: 20 },
      circuits: { shard: { state: "closed", failures: 0 } },
      storage: { entries: 1, stored_bytes: 7, max_entries: 1_000_000 },
    });
    expect(res.json.rate_limits[0]).toMatchObject({ policy: "tenant", limit: 50, window_seconds: 60 });
    // This request and the entry's creation; a tenant key's own view request counts too.
    expect(res.json.monthly_requests.used).toBeGreaterThanOrEqual(2);
  });

  it("needs tenant:admin", async () => {
    const tenant = await createTenant(admin);
    const { secret } = await tenantKey(admin, tenant.id, ["entries:read"]);
    expectProblem(await call(`/v1/tenants/${tenant.id}/limits`, { key: secret }), 403, "insufficient-scope");
  });

  it("answers 404 for another tenant's limits and for an id that is not one", async () => {
    const mine = await createTenant(admin);
    const theirs = await createTenant(admin);
    const key = await keyFor(admin, mine.id);
    expectProblem(await call(`/v1/tenants/${theirs.id}/limits`, { key }), 404, "not-found");
    // The tenant is resolved before the path is validated, so a malformed id is simply unknown.
    expectProblem(await call("/v1/tenants/nope/limits", { key: admin }), 404, "not-found");
  });
});

describe("POST /v1/tenants/:tenantId/limits/reset", () => {
  it("lets a platform admin reset the rate window and the month", async () => {
    const { tenant, key } = await limitedTenant(admin, { requests_per_minute: 2 });
    await call("/v1/ping", { key });
    await call("/v1/ping", { key });
    expectProblem(await call("/v1/ping", { key }), 429, "rate-limited");
    await settled(admin, tenant.id);
    const res = await call(`/v1/tenants/${tenant.id}/limits/reset`, {
      method: "POST",
      key: admin,
      body: { scopes: ["rate", "quota"] },
    });
    expect(res.status).toBe(200);
    expect(res.json.rate_limits[0]).toMatchObject({ used: 0, remaining: 2 });
    expect(res.json.monthly_requests.used).toBe(0);
    expect((await call("/v1/ping", { key })).status).toBe(200);
  });

  it("resets everything when no body is sent", async () => {
    const { tenant, key } = await limitedTenant(admin, { requests_per_minute: 5 });
    await call("/v1/ping", { key });
    await settled(admin, tenant.id);
    const res = await call(`/v1/tenants/${tenant.id}/limits/reset`, { method: "POST", key: admin });
    expect(res.status).toBe(200);
    expect(res.json.rate_limits[0].used).toBe(0);
  });

  it("refuses a tenant admin the counters the tenant pays for", async () => {
    const { tenant, key } = await limitedTenant(admin, {});
    const res = await call(`/v1/tenants/${tenant.id}/limits/reset`, {
      method: "POST",
      key,
      body: { scopes: ["circuits", "quota"] },
    });
    expectProblem(res, 403, "forbidden");
    expect(res.json.detail).toMatch(/quota/);
  });

  it("rejects unknown scopes, an empty list and extra fields with 400", async () => {
    const { tenant } = await limitedTenant(admin, {});
    const reset = (body: unknown) =>
      call(`/v1/tenants/${tenant.id}/limits/reset`, { method: "POST", key: admin, body });
    expect(errorPaths(await reset({ scopes: ["everything"] }))).toEqual(["body.scopes.0"]);
    expect(errorPaths(await reset({ scopes: [] }))).toEqual(["body.scopes"]);
    expectProblem(await reset({ scopes: ["rate"], extra: 1 }), 400, "validation-error");
  });
});

describe("limit overrides and per-key limits", () => {
  it("are validated", async () => {
    const tenant = await createTenant(admin);
    const patch = (limits: unknown) =>
      call(`/v1/tenants/${tenant.id}`, { method: "PATCH", key: admin, body: { limits } });
    expect(errorPaths(await patch({ requests_per_minute: 0 }))).toEqual(["body.limits.requests_per_minute"]);
    expect(errorPaths(await patch({ max_concurrency: 1.5 }))).toEqual(["body.limits.max_concurrency"]);
    expect(errorPaths(await patch({ burst: 3 }))).toEqual(["body.limits"]);
    const key = (rate: unknown) =>
      call(`/v1/tenants/${tenant.id}/keys`, {
        method: "POST",
        key: admin,
        body: { name: "k", scopes: ["entries:read"], rate_limit_per_minute: rate },
      });
    expect(errorPaths(await key(0))).toEqual(["body.rate_limit_per_minute"]);
    expect(errorPaths(await key("10"))).toEqual(["body.rate_limit_per_minute"]);
  });

  it("can only be set by a platform admin", async () => {
    const tenant = await createTenant(admin);
    const own = await keyFor(admin, tenant.id);
    const res = await call(`/v1/tenants/${tenant.id}`, {
      method: "PATCH",
      key: own,
      body: { limits: { requests_per_minute: 100_000 } },
    });
    expectProblem(res, 403, "forbidden");
  });

  it("are shown on the tenant and the key, and {} returns to the plan", async () => {
    const { tenant, key } = await limitedTenant(admin, { requests_per_minute: 7, monthly_requests: null });
    const read = await call(`/v1/tenants/${tenant.id}`, { key: admin });
    expect(read.json.limit_overrides).toEqual({ requests_per_minute: 7, monthly_requests: null });
    const created = await call(`/v1/tenants/${tenant.id}/keys`, {
      method: "POST",
      key: admin,
      body: { name: "slow", scopes: ["entries:read"], rate_limit_per_minute: 3 },
    });
    expect(created.json.rate_limit_per_minute).toBe(3);
    await call(`/v1/tenants/${tenant.id}`, { method: "PATCH", key: admin, body: { limits: {} } });
    const view = await limitsOf(admin, tenant.id);
    expect(view.rate_limits[0]?.limit).toBe(600);
    expect(view.monthly_requests.limit).toBe(5_000_000);
    expect((await call("/v1/ping", { key })).status).toBe(200);
  });
});

describe("a shard call that outlives SHARD_TIMEOUT_MS", () => {
  it("answers 503 shard-unavailable and counts as a failure of the circuit", async () => {
    const { tenant } = await limitedTenant(admin, {});
    const route = await resolveRoute(env, tenant.id);
    // The real middleware in front of a handler slower than the timeout, as a hung shard would be.
    const app = new Hono<AppEnv>();
    app.onError(onError);
    app.use(async (c, next) => {
      c.set("route", route as TenantRoute);
      await next();
    });
    app.get("/", tenantShard({ write: false }), async (c) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return c.json({ late: true });
    });
    const ctx = createExecutionContext();
    const res = await app.fetch(new Request("http://localhost/"), { ...env, SHARD_TIMEOUT_MS: "50" }, ctx);
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(503);
    expect(res.headers.get("Retry-After")).toBe("1");
    const body = (await res.json()) as { type: string; detail: string };
    expect(body.type).toMatch(/\/shard-unavailable$/);
    expect(body.detail).toBe("The shard did not answer within 50 ms");
    expect((await limitsOf(admin, tenant.id)).circuits.shard).toMatchObject({ calls: 1, failures: 1 });
  });
});
