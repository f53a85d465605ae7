import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminKey, call, createTenant, errorPaths, expectProblem, listAll, tenantKey } from "../helpers";

const ALL = ["entries:read", "entries:write", "tenant:admin"];

/** A fresh tenant plus a platform-admin key to manage it with. */
async function setup() {
  const admin = await adminKey();
  const tenant = await createTenant(admin);
  return { admin, tenant, keysPath: `/v1/tenants/${tenant.id}/keys` };
}

async function createUser(admin: string, tenantId: string, role: string) {
  const res = await call(`/v1/tenants/${tenantId}/users`, {
    method: "POST",
    key: admin,
    body: { email: `${role.toLowerCase()}-${crypto.randomUUID()}@example.com`, role },
  });
  expect(res.status).toBe(201);
  return res.json as { id: string; role: string };
}

/** Every row of every table in the control database, as JSON text per table. */
async function controlDbDump() {
  const tables = await env.CONTROL_DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
  ).all<{ name: string }>();
  return Promise.all(
    tables.results.map(async ({ name }) => {
      const rows = await env.CONTROL_DB.prepare(`SELECT * FROM "${name}"`).all();
      return { table: name, text: JSON.stringify(rows.results) };
    }),
  );
}

describe("tenant API keys", () => {
  describe("create", () => {
    it("returns 201 with the secret once, an etk_ prefix and Cache-Control no-store", async () => {
      const { admin, tenant, keysPath } = await setup();
      const res = await call(keysPath, {
        method: "POST",
        key: admin,
        body: { name: "ci", scopes: ["entries:read", "entries:write"] },
      });
      expect(res.status).toBe(201);
      expect(res.headers.get("Cache-Control")).toBe("no-store");
      expect(res.json).toMatchObject({
        tenant_id: tenant.id,
        user_id: null,
        name: "ci",
        scopes: ["entries:read", "entries:write"],
        expires_at: null,
        last_used_at: null,
        revoked_at: null,
      });
      expect(res.json.id).toMatch(/^key_[0-9A-HJKMNP-TV-Z]{26}$/);
      expect(res.json.prefix).toMatch(/^etk_[A-Za-z0-9]{16}$/);
      expect(res.json.secret.startsWith(`${res.json.prefix}_`)).toBe(true);
      expect(Date.parse(res.json.created_at)).not.toBeNaN();

      // The secret works straight away and is never shown again.
      expect((await call("/v1/me", { key: res.json.secret })).status).toBe(200);
      const fetched = await call(`${keysPath}/${res.json.id}`, { key: admin });
      expect(fetched.json).not.toHaveProperty("secret");
      expect(fetched.text).not.toContain(res.json.secret);
    });

    it("keeps no plain-text copy of the secret in the control database, even behind an Idempotency-Key", async () => {
      const { admin, keysPath } = await setup();
      const res = await call(keysPath, {
        method: "POST",
        key: admin,
        headers: { "Idempotency-Key": `key-create-${crypto.randomUUID()}` },
        body: { name: "retry-safe", scopes: ["entries:read"] },
      });
      expect(res.status).toBe(201);
      const secretPart = (res.json.secret as string).slice(res.json.prefix.length + 1);
      const dump = await controlDbDump();
      expect(dump.find(({ table }) => table === "api_keys")?.text).toContain(res.json.prefix);
      for (const { table, text } of dump) expect(text, `table ${table}`).not.toContain(secretPart);
    });

    it("records expires_at and issues distinct secrets for every key", async () => {
      const { admin, tenant } = await setup();
      const expiresAt = new Date(Date.now() + 3600_000).toISOString();
      const a = await tenantKey(admin, tenant.id, ["entries:read"], { expires_at: expiresAt });
      const b = await tenantKey(admin, tenant.id, ["entries:read"]);
      expect((a as Record<string, unknown>).expires_at).toBe(expiresAt);
      expect(a.secret).not.toBe(b.secret);
      expect(a.prefix).not.toBe(b.prefix);
    });

    it("lets a tenant key with tenant:admin create keys for its own tenant", async () => {
      const { admin, tenant, keysPath } = await setup();
      const owner = await tenantKey(admin, tenant.id);
      const res = await call(keysPath, { method: "POST", key: owner.secret, body: { name: "sub", scopes: ALL } });
      expect(res.status).toBe(201);
      expect(res.json.tenant_id).toBe(tenant.id);
    });

    it("issues a key to a user when the scopes fit the user's role", async () => {
      const { admin, keysPath, tenant } = await setup();
      const user = await createUser(admin, tenant.id, "MEMBER");
      const res = await call(keysPath, {
        method: "POST",
        key: admin,
        body: { name: "member key", scopes: ["entries:read", "entries:write"], user_id: user.id },
      });
      expect(res.status).toBe(201);
      expect(res.json.user_id).toBe(user.id);
      const me = await call("/v1/me", { key: res.json.secret });
      expect(me.json.user_id).toBe(user.id);
      expect(me.json.key.scopes).toEqual(["entries:read", "entries:write"]);
    });
  });

  describe("validation", () => {
    it("rejects an empty scope list with 400 validation-error naming body.scopes", async () => {
      const { admin, keysPath } = await setup();
      const res = await call(keysPath, { method: "POST", key: admin, body: { name: "k", scopes: [] } });
      expectProblem(res, 400, "validation-error");
      expect(errorPaths(res)).toContain("body.scopes");
    });

    it("rejects an unknown scope with 400 validation-error naming the offending element", async () => {
      const { admin, keysPath } = await setup();
      const res = await call(keysPath, {
        method: "POST",
        key: admin,
        body: { name: "k", scopes: ["entries:read", "root"] },
      });
      expectProblem(res, 400, "validation-error");
      expect(errorPaths(res)).toContain("body.scopes.1");
    });

    it("rejects an expires_at in the past with 400 validation-error naming body.expires_at", async () => {
      const { admin, keysPath } = await setup();
      const res = await call(keysPath, {
        method: "POST",
        key: admin,
        body: { name: "k", scopes: ["entries:read"], expires_at: new Date(Date.now() - 60_000).toISOString() },
      });
      expectProblem(res, 400, "validation-error");
      expect(errorPaths(res)).toContain("body.expires_at");
    });

    it("rejects an expires_at that is not a timestamp", async () => {
      const { admin, keysPath } = await setup();
      const res = await call(keysPath, {
        method: "POST",
        key: admin,
        body: { name: "k", scopes: ["entries:read"], expires_at: "tomorrow" },
      });
      expectProblem(res, 400, "validation-error");
      expect(errorPaths(res)).toContain("body.expires_at");
    });

    it("takes an expires_at with a UTC offset, as RFC 3339 allows, and stores the instant", async () => {
      const { admin, keysPath } = await setup();
      const at = new Date(Date.now() + 2 * 3600_000);
      at.setUTCMilliseconds(0);
      const local = new Date(at.getTime() + 2 * 3600_000).toISOString().replace(".000Z", "+02:00");
      const res = await call(keysPath, {
        method: "POST",
        key: admin,
        body: { name: "k", scopes: ["entries:read"], expires_at: local },
      });
      expect(res.status, res.text).toBe(201);
      expect(res.json.expires_at).toBe(at.toISOString());
    });

    it("holds a scope named twice once: scopes are a set", async () => {
      const { admin, keysPath } = await setup();
      const res = await call(keysPath, {
        method: "POST",
        key: admin,
        body: { name: "k", scopes: ["entries:read", "entries:read"] },
      });
      expect(res.status).toBe(201);
      expect(res.json.scopes).toEqual(["entries:read"]);
    });

    it("rejects an expires_at past the last instant a UTC timestamp can name", async () => {
      const { admin, keysPath } = await setup();
      const res = await call(keysPath, {
        method: "POST",
        key: admin,
        body: { name: "k", scopes: ["entries:read"], expires_at: "9999-12-31T23:59:59-01:00" },
      });
      expectProblem(res, 400, "validation-error");
      expect(errorPaths(res)).toContain("body.expires_at");
    });

    it("rejects an unknown field with 400 validation-error", async () => {
      const { admin, keysPath } = await setup();
      const res = await call(keysPath, {
        method: "POST",
        key: admin,
        body: { name: "k", scopes: ["entries:read"], tenant_id: "ten_01JD8X5Q3M2V7T6R4N9K0B1C2D" },
      });
      expectProblem(res, 400, "validation-error");
      expect(errorPaths(res).every((path) => path.startsWith("body"))).toBe(true);
      expect(res.text).toContain("tenant_id");
    });

    it("lists every failing field at once", async () => {
      const { admin, keysPath } = await setup();
      const res = await call(keysPath, { method: "POST", key: admin, body: { name: "", scopes: [] } });
      expectProblem(res, 400, "validation-error");
      expect(errorPaths(res)).toEqual(expect.arrayContaining(["body.name", "body.scopes"]));
    });

    it("creates nothing when validation fails", async () => {
      const { admin, keysPath } = await setup();
      await call(keysPath, { method: "POST", key: admin, body: { name: "k", scopes: [] } });
      const list = await call(keysPath, { key: admin });
      expect(list.json.data).toEqual([]);
    });
  });

  describe("list", () => {
    it("lists keys with prefix, scopes, expiry and last use but never a secret", async () => {
      const { admin, tenant, keysPath } = await setup();
      const expiresAt = new Date(Date.now() + 3600_000).toISOString();
      const key = await tenantKey(admin, tenant.id, ["entries:read"], { expires_at: expiresAt });

      const res = await call(keysPath, { key: admin });
      expect(res.status).toBe(200);
      expect(res.json.next_cursor).toBeNull();
      expect(res.json.data).toHaveLength(1);
      const [listed] = res.json.data;
      expect(listed).toMatchObject({
        id: key.id,
        prefix: key.prefix,
        scopes: ["entries:read"],
        expires_at: expiresAt,
        last_used_at: null,
        revoked_at: null,
      });
      expect(listed).toHaveProperty("last_used_at");
      expect(listed).not.toHaveProperty("secret");
      expect(listed).not.toHaveProperty("secret_hash");
      expect(res.text).not.toContain(key.secret);
    });

    it("walks every key exactly once with limit=1 and the cursor", async () => {
      const { admin, tenant, keysPath } = await setup();
      const created = new Set<string>();
      for (let i = 0; i < 4; i++) created.add((await tenantKey(admin, tenant.id, ["entries:read"])).id);

      const seen = (await listAll<{ id: string }>(keysPath, admin, 1)).items.map((k) => k.id);
      expect(seen).toHaveLength(4);
      expect(new Set(seen)).toEqual(created);
      // Newest first.
      expect([...seen].sort().reverse()).toEqual(seen);
    });

    it("only lists the tenant's own keys, not platform-admin keys or other tenants' keys", async () => {
      const { admin, tenant, keysPath } = await setup();
      const other = await createTenant(admin);
      const mine = await tenantKey(admin, tenant.id, ["entries:read"]);
      await tenantKey(admin, other.id, ["entries:read"]);
      const res = await call(`${keysPath}?limit=100`, { key: admin });
      expect(res.json.data.map((k: { id: string }) => k.id)).toEqual([mine.id]);
    });

    it("rejects a cursor that does not decode to an id with 400 validation-error", async () => {
      const { admin, keysPath } = await setup();
      for (const cursor of ["!!!", "bm90LWFuLWlk", "%%"]) {
        const res = await call(`${keysPath}?cursor=${encodeURIComponent(cursor)}`, { key: admin });
        expectProblem(res, 400, "validation-error");
        expect(errorPaths(res)).toContain("query.cursor");
      }
    });

    it("rejects a limit outside 1-100 with 400 validation-error", async () => {
      const { admin, keysPath } = await setup();
      for (const limit of ["0", "101", "abc"]) {
        const res = await call(`${keysPath}?limit=${limit}`, { key: admin });
        expectProblem(res, 400, "validation-error");
        expect(errorPaths(res)).toContain("query.limit");
      }
    });
  });

  describe("get", () => {
    it("returns one key without its secret", async () => {
      const { admin, tenant, keysPath } = await setup();
      const key = await tenantKey(admin, tenant.id, ["entries:read", "tenant:admin"]);
      const res = await call(`${keysPath}/${key.id}`, { key: admin });
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ id: key.id, prefix: key.prefix, scopes: ["entries:read", "tenant:admin"] });
      expect(res.json).not.toHaveProperty("secret");
    });

    it("answers an unknown key id with 404 not-found", async () => {
      const { admin, keysPath } = await setup();
      expectProblem(await call(`${keysPath}/key_01JD8X5Q3M2V7T6R4N9K0B1C2F`, { key: admin }), 404, "not-found");
    });

    it("answers a key id that is not a key_ id with 400 validation-error", async () => {
      const { admin, keysPath } = await setup();
      const res = await call(`${keysPath}/nope`, { key: admin });
      expectProblem(res, 400, "validation-error");
      expect(errorPaths(res)).toContain("path.keyId");
    });
  });

  describe("revoke", () => {
    it("returns 200 with revoked_at and the key stops working", async () => {
      const { admin, tenant, keysPath } = await setup();
      const key = await tenantKey(admin, tenant.id, ["entries:read"]);
      const before = Date.now();
      const res = await call(`${keysPath}/${key.id}`, { method: "DELETE", key: admin });
      expect(res.status).toBe(200);
      expect(res.json.id).toBe(key.id);
      expect(Date.parse(res.json.revoked_at)).toBeGreaterThanOrEqual(before - 5);
      expect(res.json).not.toHaveProperty("secret");
      expectProblem(await call("/v1/me", { key: key.secret }), 401, "invalid-api-key");

      const listed = await call(`${keysPath}/${key.id}`, { key: admin });
      expect(listed.json.revoked_at).toBe(res.json.revoked_at);
    });

    it("keeps the first revoked_at when a key is revoked twice", async () => {
      const { admin, tenant, keysPath } = await setup();
      const key = await tenantKey(admin, tenant.id, ["entries:read"]);
      const first = await call(`${keysPath}/${key.id}`, { method: "DELETE", key: admin });
      await new Promise((resolve) => setTimeout(resolve, 20));
      const second = await call(`${keysPath}/${key.id}`, { method: "DELETE", key: admin });
      expect(second.status).toBe(200);
      expect(second.json.revoked_at).toBe(first.json.revoked_at);
    });

    it("answers an unknown key id with 404 not-found", async () => {
      const { admin, keysPath } = await setup();
      const res = await call(`${keysPath}/key_01JD8X5Q3M2V7T6R4N9K0B1C2F`, { method: "DELETE", key: admin });
      expectProblem(res, 404, "not-found");
    });
  });

  describe("authorization", () => {
    it("answers a tenant key without tenant:admin with 403 insufficient-scope on every key route", async () => {
      const { admin, tenant, keysPath } = await setup();
      const target = await tenantKey(admin, tenant.id, ["entries:read"]);
      const weak = await tenantKey(admin, tenant.id, ["entries:read", "entries:write"]);
      const requests = [
        call(keysPath, { key: weak.secret }),
        call(keysPath, { method: "POST", key: weak.secret, body: { name: "x", scopes: ["entries:read"] } }),
        call(`${keysPath}/${target.id}`, { key: weak.secret }),
        call(`${keysPath}/${target.id}`, { method: "DELETE", key: weak.secret }),
      ];
      for (const res of await Promise.all(requests)) {
        expectProblem(res, 403, "insufficient-scope");
        expect(res.json.required_scopes).toEqual(["tenant:admin"]);
      }
      // The target key was not revoked.
      expect((await call("/v1/me", { key: target.secret })).status).toBe(200);
    });

    it("refuses to issue entries:write to a READ_ONLY user with 422 unprocessable-entity", async () => {
      const { admin, tenant, keysPath } = await setup();
      const user = await createUser(admin, tenant.id, "READ_ONLY");
      const res = await call(keysPath, {
        method: "POST",
        key: admin,
        body: { name: "ro", scopes: ["entries:read", "entries:write"], user_id: user.id },
      });
      expectProblem(res, 422, "unprocessable-entity");
      expect(res.json.detail).toContain("entries:write");
      const list = await call(keysPath, { key: admin });
      expect(list.json.data).toEqual([]);
    });

    it("refuses to issue tenant:admin to a MEMBER user with 422 unprocessable-entity", async () => {
      const { admin, tenant, keysPath } = await setup();
      const user = await createUser(admin, tenant.id, "MEMBER");
      const res = await call(keysPath, {
        method: "POST",
        key: admin,
        body: { name: "m", scopes: ["tenant:admin"], user_id: user.id },
      });
      expectProblem(res, 422, "unprocessable-entity");
    });

    it("answers a user_id of another tenant's user with 404 not-found", async () => {
      const { admin, keysPath } = await setup();
      const other = await createTenant(admin);
      const stranger = await createUser(admin, other.id, "TENANT_ADMIN");
      const res = await call(keysPath, {
        method: "POST",
        key: admin,
        body: { name: "k", scopes: ["entries:read"], user_id: stranger.id },
      });
      expectProblem(res, 404, "not-found");
    });

    it("rejects an empty user_id as invalid input, not with a server error", async () => {
      const { admin, keysPath } = await setup();
      const res = await call(keysPath, {
        method: "POST",
        key: admin,
        body: { name: "k", scopes: ["entries:read"], user_id: "" },
      });
      expectProblem(res, 400, "validation-error");
    });

    it("issues a key minted by a user's key to that same user, so removing the user revokes both", async () => {
      const { admin, tenant, keysPath } = await setup();
      const user = await createUser(admin, tenant.id, "TENANT_ADMIN");
      const parent = await call(keysPath, {
        method: "POST",
        key: admin,
        body: { name: "user key", scopes: ALL, user_id: user.id },
      });
      const child = await call(keysPath, {
        method: "POST",
        key: parent.json.secret,
        body: { name: "minted", scopes: ALL },
      });
      expect(child.status).toBe(201);
      expect(child.json.user_id).toBe(user.id);

      const removed = await call(`/v1/tenants/${tenant.id}/users/${user.id}`, { method: "DELETE", key: admin });
      expect(removed.status).toBe(204);
      expectProblem(await call("/v1/me", { key: child.json.secret }), 401, "invalid-api-key");
    });

    it("caps a key's effective scopes when its user's role is later downgraded", async () => {
      const { admin, tenant, keysPath } = await setup();
      const user = await createUser(admin, tenant.id, "TENANT_ADMIN");
      const created = await call(keysPath, {
        method: "POST",
        key: admin,
        body: { name: "admin user", scopes: ALL, user_id: user.id },
      });
      expect(created.status).toBe(201);
      const secret = created.json.secret as string;
      const entries = `/v1/tenants/${tenant.id}/entries`;

      expect((await call("/v1/me", { key: secret })).json.key.scopes).toEqual(ALL);
      const write = await call(entries, { method: "POST", key: secret, body: { data: { n: 1 } } });
      expect(write.status).toBe(201);

      const patched = await call(`/v1/tenants/${tenant.id}/users/${user.id}`, {
        method: "PATCH",
        key: admin,
        body: { role: "READ_ONLY" },
      });
      expect(patched.status).toBe(200);

      const me = await call("/v1/me", { key: secret });
      expect(me.status).toBe(200);
      expect(me.json.key.scopes).toEqual(["entries:read"]);
      const denied = await call(entries, { method: "POST", key: secret, body: { data: { n: 2 } } });
      expectProblem(denied, 403, "insufficient-scope");
      expectProblem(await call(keysPath, { key: secret }), 403, "insufficient-scope");
      expect((await call(entries, { key: secret })).status).toBe(200);

      // The stored scopes are untouched, so promoting the user back restores them.
      expect((await call(`${keysPath}/${created.json.id}`, { key: admin })).json.scopes).toEqual(ALL);
      await call(`/v1/tenants/${tenant.id}/users/${user.id}`, {
        method: "PATCH",
        key: admin,
        body: { role: "TENANT_ADMIN" },
      });
      expect((await call("/v1/me", { key: secret })).json.key.scopes).toEqual(ALL);
    });

    it("answers another tenant's key id with 404 not-found and leaves that key alone", async () => {
      const { admin, tenant, keysPath } = await setup();
      const other = await createTenant(admin);
      const foreign = await tenantKey(admin, other.id, ["entries:read"]);
      const mine = await tenantKey(admin, tenant.id);

      for (const key of [mine.secret, admin]) {
        expectProblem(await call(`${keysPath}/${foreign.id}`, { key }), 404, "not-found");
        expectProblem(await call(`${keysPath}/${foreign.id}`, { method: "DELETE", key }), 404, "not-found");
      }
      expect((await call("/v1/me", { key: foreign.secret })).status).toBe(200);
    });

    it("answers a tenant key naming another tenant with 404 not-found", async () => {
      const { admin, tenant } = await setup();
      const other = await createTenant(admin);
      const mine = await tenantKey(admin, tenant.id);
      const res = await call(`/v1/tenants/${other.id}/keys`, { key: mine.secret });
      expectProblem(res, 404, "not-found");
      const create = await call(`/v1/tenants/${other.id}/keys`, {
        method: "POST",
        key: mine.secret,
        body: { name: "sneaky", scopes: ALL },
      });
      expectProblem(create, 404, "not-found");
    });

    it("does not let a tenant key revoke a platform-admin key", async () => {
      const { admin, tenant, keysPath } = await setup();
      const mine = await tenantKey(admin, tenant.id);
      const adminKeys = await call("/v1/admin/keys?limit=100", { key: admin });
      const adminKeyId = adminKeys.json.data[0].id as string;
      expectProblem(await call(`${keysPath}/${adminKeyId}`, { method: "DELETE", key: mine.secret }), 404, "not-found");
      expect((await call("/v1/tenants", { key: admin })).status).toBe(200);
    });

    it("answers an unknown tenant with 404 not-found for a platform admin", async () => {
      const admin = await adminKey();
      const res = await call("/v1/tenants/ten_01JD8X5Q3M2V7T6R4N9K0B1C2D/keys", { key: admin });
      expectProblem(res, 404, "not-found");
    });
  });
});
