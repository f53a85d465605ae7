import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { adminKey, call, createTenant, expectProblem, tenantKey } from "../helpers";
import { keyFor, parseList, travel } from "./fixture";

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});
afterEach(() => {
  vi.useRealTimers();
});

const ping = (key: string) => call("/v1/ping", { key });
const staleness = Number(env.GATE_MAX_STALENESS_MS);

describe("changes reach every request at once", () => {
  it("refuses a revoked key on the very next request", async () => {
    const tenant = await createTenant(admin);
    const { id, secret } = await tenantKey(admin, tenant.id);
    const owner = await keyFor(admin, tenant.id);
    expect((await ping(secret)).status).toBe(200);
    expect((await call(`/v1/tenants/${tenant.id}/keys/${id}`, { method: "DELETE", key: owner })).status).toBe(200);
    const refused = await ping(secret);
    expectProblem(refused, 401, "invalid-api-key");
    expect(refused.headers.get("WWW-Authenticate")).toMatch(/invalid_token/);
    expect((await ping(owner)).status).toBe(200);
  });

  it("locks a suspended tenant's keys out at once and lets them back in on resume", async () => {
    const tenant = await createTenant(admin);
    const key = await keyFor(admin, tenant.id);
    expect((await ping(key)).status).toBe(200);
    const patch = (status: string) =>
      call(`/v1/tenants/${tenant.id}`, { method: "PATCH", key: admin, body: { status } });
    expect((await patch("SUSPENDED")).status).toBe(200);
    expectProblem(await ping(key), 403, "tenant-suspended");
    expect((await patch("ACTIVE")).status).toBe(200);
    expect((await ping(key)).status).toBe(200);
  });

  it("applies a tier change to the very next request's limits", async () => {
    const tenant = await createTenant(admin, { tier: "FREE" });
    const key = await keyFor(admin, tenant.id);
    expect(parseList((await ping(key)).headers.get("RateLimit-Policy")).tenant?.q).toBe("60");
    await call(`/v1/tenants/${tenant.id}`, { method: "PATCH", key: admin, body: { tier: "ENTERPRISE" } });
    expect(parseList((await ping(key)).headers.get("RateLimit-Policy")).tenant?.q).toBe("6000");
  });

  it("caps a key's scopes as soon as its user is demoted", async () => {
    const tenant = await createTenant(admin);
    const user = await call(`/v1/tenants/${tenant.id}/users`, {
      method: "POST",
      key: admin,
      body: { email: "dev@example.com", role: "MEMBER" },
    });
    const { secret } = await tenantKey(admin, tenant.id, ["entries:read", "entries:write"], { user_id: user.json.id });
    const write = () =>
      call(`/v1/tenants/${tenant.id}/entries`, { method: "POST", key: secret, body: { data: {}, tags: [] } });
    expect((await write()).status).toBe(201);
    await call(`/v1/tenants/${tenant.id}/users/${user.json.id}`, {
      method: "PATCH",
      key: admin,
      body: { role: "READ_ONLY" },
    });
    expectProblem(await write(), 403, "insufficient-scope");
  });
});

describe("changes made behind the API's back (a lost notification)", () => {
  it("still refuse a revoked key within GATE_MAX_STALENESS_MS", async () => {
    const tenant = await createTenant(admin);
    const { id, secret } = await tenantKey(admin, tenant.id);
    expect((await ping(secret)).status).toBe(200);
    await env.CONTROL_DB.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ?").bind(Date.now(), id).run();
    const written = performance.now();
    let refusedAfter: number | null = null;
    while (performance.now() - written < staleness + 1_000) {
      if ((await ping(secret)).status === 401) {
        refusedAfter = performance.now() - written;
        break;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(refusedAfter).not.toBeNull();
    // The bound is the gate's staleness limit plus one request's round trip.
    expect(refusedAfter).toBeLessThanOrEqual(staleness + 150);
  });

  it("apply a suspension or tier change written straight to the database once the copy is too old", async () => {
    const tenant = await createTenant(admin, { tier: "FREE" });
    const key = await keyFor(admin, tenant.id);
    expect((await ping(key)).status).toBe(200);
    await env.CONTROL_DB.prepare("UPDATE tenants SET tier = 'STANDARD' WHERE id = ?").bind(tenant.id).run();
    travel(staleness + 1);
    expect(parseList((await ping(key)).headers.get("RateLimit-Policy")).tenant?.q).toBe("600");
    await env.CONTROL_DB.prepare("UPDATE tenants SET status = 'SUSPENDED' WHERE id = ?").bind(tenant.id).run();
    travel(staleness + 1);
    expectProblem(await ping(key), 403, "tenant-suspended");
  });
});
