import { describe, expect, it } from "vitest";
import { adminKey, call, createTenant, expectProblem, tenantKey } from "../helpers";

describe("/v1/me", () => {
  it("describes a platform-admin key: kind platform_admin, every scope and no tenant", async () => {
    const admin = await adminKey();
    const res = await call("/v1/me", { key: admin });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      kind: "platform_admin",
      key: {
        id: expect.stringMatching(/^key_/),
        name: "test admin",
        prefix: admin.slice(0, 20),
        scopes: ["entries:read", "entries:write", "tenant:admin"],
        expires_at: null,
      },
      user_id: null,
      tenant: null,
    });
  });

  it("describes a tenant key: kind tenant, its tenant and its scopes", async () => {
    const admin = await adminKey();
    const tenant = await createTenant(admin, { name: "Globex" });
    const expiresAt = new Date(Date.now() + 3600_000).toISOString();
    const key = await tenantKey(admin, tenant.id, ["entries:read"], { name: "reader", expires_at: expiresAt });

    const res = await call("/v1/me", { key: key.secret });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      kind: "tenant",
      key: { id: key.id, name: "reader", prefix: key.prefix, scopes: ["entries:read"], expires_at: expiresAt },
      user_id: null,
      tenant: {
        id: tenant.id,
        slug: tenant.slug,
        name: "Globex",
        tier: tenant.tier,
        status: "ACTIVE",
        status_reason: null,
        shard_id: tenant.shard_id,
        data_region: null,
        limit_overrides: {},
        trial_ends_at: null,
        created_at: tenant.created_at,
        updated_at: expect.any(String),
        deleted_at: null,
        // The gate records the key's use as the tenant's activity, to the minute, after answering.
        last_active_at: expect.toBeOneOf([null, expect.any(String)]),
        archived_at: null,
        purge_after: null,
      },
    });
    expect(res.text).not.toContain(key.secret);
  });

  it("reports the effective scopes of a key issued to a user, capped by the user's role", async () => {
    const admin = await adminKey();
    const tenant = await createTenant(admin);
    const userRes = await call(`/v1/tenants/${tenant.id}/users`, {
      method: "POST",
      key: admin,
      body: { email: "cap@example.com", role: "MEMBER" },
    });
    const user = userRes.json as { id: string };
    const key = await tenantKey(admin, tenant.id, ["entries:read", "entries:write"], { user_id: user.id });

    const before = await call("/v1/me", { key: key.secret });
    expect(before.json).toMatchObject({ kind: "tenant", user_id: user.id });
    expect(before.json.key.scopes).toEqual(["entries:read", "entries:write"]);

    await call(`/v1/tenants/${tenant.id}/users/${user.id}`, {
      method: "PATCH",
      key: admin,
      body: { role: "READ_ONLY" },
    });
    const after = await call("/v1/me", { key: key.secret });
    expect(after.json.key.scopes).toEqual(["entries:read"]);
  });

  it("needs no particular scope", async () => {
    const admin = await adminKey();
    const tenant = await createTenant(admin);
    const key = await tenantKey(admin, tenant.id, ["entries:read"]);
    expect((await call("/v1/me", { key: key.secret })).status).toBe(200);
  });

  it("answers without a key with 401 unauthenticated", async () => {
    expectProblem(await call("/v1/me"), 401, "unauthenticated");
  });
});
