import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminKey, call, createTenant, errorPaths, expectProblem, listAll, tenantKey } from "../helpers";

const PATH = "/v1/admin/keys";

async function createAdminKey(admin: string, body: Record<string, unknown> = { name: "ops" }) {
  const res = await call(PATH, { method: "POST", key: admin, body });
  expect(res.status).toBe(201);
  return res.json as { id: string; secret: string; prefix: string; [field: string]: unknown };
}

describe("platform-admin keys", () => {
  it("lets a platform admin create an admin key holding every scope, shown once with no-store", async () => {
    const admin = await adminKey();
    const res = await call(PATH, { method: "POST", key: admin, body: { name: "ops" } });
    expect(res.status).toBe(201);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    expect(res.json).toMatchObject({
      tenant_id: null,
      user_id: null,
      name: "ops",
      scopes: ["entries:read", "entries:write", "tenant:admin"],
      expires_at: null,
      revoked_at: null,
    });
    expect(res.json.id).toMatch(/^key_/);
    expect(res.json.prefix).toMatch(/^etk_[A-Za-z0-9]{16}$/);
    expect(res.json.secret.startsWith(`${res.json.prefix}_`)).toBe(true);
  });

  it("keeps no plain-text copy of an admin secret in the control database, even behind an Idempotency-Key", async () => {
    const admin = await adminKey();
    const res = await call(PATH, {
      method: "POST",
      key: admin,
      headers: { "Idempotency-Key": `admin-key-${crypto.randomUUID()}` },
      body: { name: "retry-safe" },
    });
    expect(res.status).toBe(201);
    const secretPart = (res.json.secret as string).slice(res.json.prefix.length + 1);
    for (const table of ["api_keys", "idempotency_records"]) {
      const rows = await env.CONTROL_DB.prepare(`SELECT * FROM ${table}`).all();
      expect(JSON.stringify(rows.results), `table ${table}`).not.toContain(secretPart);
    }
  });

  it("makes a newly created admin key work on GET /v1/tenants", async () => {
    const admin = await adminKey();
    const tenant = await createTenant(admin);
    const created = await createAdminKey(admin);

    const res = await call("/v1/tenants?limit=100", { key: created.secret });
    expect(res.status).toBe(200);
    expect(res.json.data.map((t: { id: string }) => t.id)).toContain(tenant.id);
    const me = await call("/v1/me", { key: created.secret });
    expect(me.json).toMatchObject({ kind: "platform_admin", tenant: null });
    expect(me.json.key.id).toBe(created.id);
  });

  it("records an expiry for an admin key", async () => {
    const admin = await adminKey();
    const expiresAt = new Date(Date.now() + 3600_000).toISOString();
    const created = await createAdminKey(admin, { name: "temp", expires_at: expiresAt });
    expect(created.expires_at).toBe(expiresAt);
  });

  it("validates the body with 400 validation-error", async () => {
    const admin = await adminKey();
    const cases: [unknown, string][] = [
      [{}, "body.name"],
      [{ name: "" }, "body.name"],
      [{ name: "x", expires_at: new Date(Date.now() - 1000).toISOString() }, "body.expires_at"],
    ];
    for (const [body, path] of cases) {
      const res = await call(PATH, { method: "POST", key: admin, body });
      expectProblem(res, 400, "validation-error");
      expect(errorPaths(res)).toContain(path);
    }
    // Admin keys cannot be scoped down or bound to a tenant through this route.
    for (const extra of [{ scopes: ["entries:read"] }, { tenant_id: "ten_01JD8X5Q3M2V7T6R4N9K0B1C2D" }]) {
      expectProblem(
        await call(PATH, { method: "POST", key: admin, body: { name: "x", ...extra } }),
        400,
        "validation-error",
      );
    }
  });

  it("lists admin keys without secrets and without tenant keys, page by page", async () => {
    const admin = await adminKey();
    const tenant = await createTenant(admin);
    const tenantOwned = await tenantKey(admin, tenant.id);
    const created = [await createAdminKey(admin), await createAdminKey(admin), await createAdminKey(admin)];

    const { items } = await listAll(PATH, admin, 2);
    for (const key of items) {
      expect(key.tenant_id).toBeNull();
      expect(key).not.toHaveProperty("secret");
    }
    const seen = items.map((k) => k.id as string);
    expect(new Set(seen).size).toBe(seen.length);
    for (const key of created) expect(seen).toContain(key.id);
    expect(seen).not.toContain(tenantOwned.id);
  });

  it("rejects a bad cursor with 400 validation-error", async () => {
    const admin = await adminKey();
    expectProblem(await call(`${PATH}?cursor=!!!`, { key: admin }), 400, "validation-error");
  });

  it("revokes an admin key, which then gets 401 while the revoking key keeps working", async () => {
    const admin = await adminKey();
    const created = await createAdminKey(admin);
    expect((await call("/v1/tenants", { key: created.secret })).status).toBe(200);

    const res = await call(`${PATH}/${created.id}`, { method: "DELETE", key: admin });
    expect(res.status).toBe(200);
    expect(res.json.id).toBe(created.id);
    expect(res.json.revoked_at).not.toBeNull();
    expect(res.json).not.toHaveProperty("secret");

    expectProblem(await call("/v1/tenants", { key: created.secret }), 401, "invalid-api-key");
    expect((await call("/v1/tenants", { key: admin })).status).toBe(200);

    const again = await call(`${PATH}/${created.id}`, { method: "DELETE", key: admin });
    expect(again.status).toBe(200);
    expect(again.json.revoked_at).toBe(res.json.revoked_at);
  });

  it("answers a tenant key's id on the admin route with 404 not-found and leaves that key working", async () => {
    const admin = await adminKey();
    const tenant = await createTenant(admin);
    const key = await tenantKey(admin, tenant.id);
    expectProblem(await call(`${PATH}/${key.id}`, { method: "DELETE", key: admin }), 404, "not-found");
    expect((await call("/v1/me", { key: key.secret })).status).toBe(200);
  });

  it("answers an unknown or malformed key id with 404 or 400", async () => {
    const admin = await adminKey();
    expectProblem(
      await call(`${PATH}/key_01JD8X5Q3M2V7T6R4N9K0B1C2F`, { method: "DELETE", key: admin }),
      404,
      "not-found",
    );
    const malformed = await call(`${PATH}/nope`, { method: "DELETE", key: admin });
    expectProblem(malformed, 400, "validation-error");
    expect(errorPaths(malformed)).toContain("path.keyId");
  });

  it("answers a tenant key, even one with tenant:admin, with 403 forbidden on every admin-key route", async () => {
    const admin = await adminKey();
    const tenant = await createTenant(admin);
    const key = await tenantKey(admin, tenant.id, ["entries:read", "entries:write", "tenant:admin"]);
    const target = await createAdminKey(admin);

    expectProblem(await call(PATH, { key: key.secret }), 403, "forbidden");
    expectProblem(await call(PATH, { method: "POST", key: key.secret, body: { name: "escalate" } }), 403, "forbidden");
    expectProblem(await call(`${PATH}/${target.id}`, { method: "DELETE", key: key.secret }), 403, "forbidden");

    // Nothing was created or revoked.
    expect((await call("/v1/tenants", { key: target.secret })).status).toBe(200);
    const list = await call(`${PATH}?limit=100`, { key: admin });
    expect(list.json.data.map((k: { name: string }) => k.name)).not.toContain("escalate");
  });

  it("answers an unauthenticated request with 401", async () => {
    expectProblem(await call(PATH), 401, "unauthenticated");
    expectProblem(await call(PATH, { method: "POST", body: { name: "x" } }), 401, "unauthenticated");
  });
});
