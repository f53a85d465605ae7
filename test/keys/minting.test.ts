import { describe, expect, it } from "vitest";
import { adminKey, call, createTenant, errorPaths, expectProblem, tenantKey } from "../helpers";

const ALL = ["entries:read", "entries:write", "tenant:admin"] as const;

/** A tenant, and a tenant:admin key of it with these limits, which then creates keys. */
async function minter(limits: { rate_limit_per_minute?: number; expires_at?: string }) {
  const admin = await adminKey();
  const tenant = await createTenant(admin);
  const key = await tenantKey(admin, tenant.id, [...ALL], limits);
  const mint = (body: Record<string, unknown>) =>
    call(`/v1/tenants/${tenant.id}/keys`, {
      method: "POST",
      key: key.secret,
      body: { name: "minted", scopes: ["entries:read"], ...body },
    });
  return { admin, tenant, key, mint };
}

const inAnHour = () => new Date(Date.now() + 3600_000).toISOString();

describe("a key creating keys", () => {
  it("cannot create one without its own per-minute limit, or with a higher one", async () => {
    const { mint, tenant } = await minter({ rate_limit_per_minute: 10 });
    for (const body of [{}, { rate_limit_per_minute: 11 }, { rate_limit_per_minute: 1_000_000 }]) {
      const res = await mint(body);
      expectProblem(res, 422, "unprocessable-entity");
      expect(errorPaths(res), JSON.stringify(body)).toEqual(["body.rate_limit_per_minute"]);
      expect(res.json.errors[0].message).toContain("10");
    }
    for (const limit of [10, 3]) {
      const res = await mint({ rate_limit_per_minute: limit });
      expect(res.status, res.text).toBe(201);
      expect(res.json.rate_limit_per_minute).toBe(limit);
    }
    // Nothing was created by the refused requests.
    const admin = await adminKey();
    expect((await call(`/v1/tenants/${tenant.id}/keys`, { key: admin })).json.data).toHaveLength(3);
  });

  it("cannot create one that outlives it", async () => {
    const expires = inAnHour();
    const { mint } = await minter({ expires_at: expires });
    for (const body of [{}, { expires_at: new Date(Date.parse(expires) + 1_000).toISOString() }]) {
      const res = await mint(body);
      expectProblem(res, 422, "unprocessable-entity");
      expect(errorPaths(res)).toEqual(["body.expires_at"]);
    }
    expect((await mint({ expires_at: expires })).status).toBe(201);
    expect((await mint({ expires_at: new Date(Date.now() + 60_000).toISOString() })).status).toBe(201);
  });

  it("names every limit it would exceed at once", async () => {
    const { mint } = await minter({ rate_limit_per_minute: 5, expires_at: inAnHour() });
    const res = await mint({});
    expectProblem(res, 422, "unprocessable-entity");
    expect(errorPaths(res).sort()).toEqual(["body.expires_at", "body.rate_limit_per_minute"]);
  });

  it("may create keys with or without limits when it has none itself", async () => {
    const { mint } = await minter({});
    expect((await mint({})).status).toBe(201);
    expect((await mint({ rate_limit_per_minute: 50, expires_at: inAnHour() })).status).toBe(201);
  });

  it("holds a platform-admin key that expires to the same rule, for admin and tenant keys alike", async () => {
    const admin = await adminKey();
    const tenant = await createTenant(admin);
    const expires = inAnHour();
    const expiring = await call("/v1/admin/keys", {
      method: "POST",
      key: admin,
      body: { name: "ea", expires_at: expires },
    });
    expect(expiring.status).toBe(201);
    const key = expiring.json.secret as string;
    for (const [path, body] of [
      ["/v1/admin/keys", { name: "forever" }],
      [`/v1/tenants/${tenant.id}/keys`, { name: "x", scopes: ["tenant:admin"] }],
    ] as const) {
      const res = await call(path, { method: "POST", key, body });
      expectProblem(res, 422, "unprocessable-entity");
      expect(errorPaths(res)).toEqual(["body.expires_at"]);
      expect((await call(path, { method: "POST", key, body: { ...body, expires_at: expires } })).status).toBe(201);
    }
  });

  it("leaves platform admins free to create any key", async () => {
    const { admin, tenant } = await minter({ rate_limit_per_minute: 1 });
    const res = await call(`/v1/tenants/${tenant.id}/keys`, {
      method: "POST",
      key: admin,
      body: { name: "unlimited", scopes: [...ALL] },
    });
    expect(res.status).toBe(201);
    expect(res.json.rate_limit_per_minute).toBeNull();
  });
});

describe("a key issued to a user who is being removed", () => {
  it("is 404 for the user, never a 500, whichever request wins", async () => {
    const admin = await adminKey();
    const tenant = await createTenant(admin);
    const seen = new Set<number>();
    for (let round = 0; round < 6; round++) {
      const user = await call(`/v1/tenants/${tenant.id}/users`, {
        method: "POST",
        key: admin,
        body: { email: `u${round}-${crypto.randomUUID()}@example.com`, role: "TENANT_ADMIN" },
      });
      expect(user.status).toBe(201);
      const mint = () =>
        call(`/v1/tenants/${tenant.id}/keys`, {
          method: "POST",
          key: admin,
          body: { name: "x", scopes: ["tenant:admin"], user_id: user.json.id },
        });
      const remove = call(`/v1/tenants/${tenant.id}/users/${user.json.id}`, { method: "DELETE", key: admin });
      const results = await Promise.all([mint(), mint(), mint(), remove, mint(), mint(), mint()]);
      for (const res of results) {
        seen.add(res.status);
        expect([201, 204, 404], res.text).toContain(res.status);
        if (res.status === 404) expectProblem(res, 404, "not-found");
      }
    }
    expect(seen.has(500)).toBe(false);
  });
});
