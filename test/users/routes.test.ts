import { describe, expect, it } from "vitest";
import { adminKey, call, createTenant, errorPaths, expectProblem, listAll, tenantKey } from "../helpers";

const UNKNOWN_USER = "usr_01JD8X5Q3M2V7T6R4N9K0B1C2E";

async function setup() {
  const admin = await adminKey();
  const tenant = await createTenant(admin);
  return { admin, tenant, usersPath: `/v1/tenants/${tenant.id}/users` };
}

const email = () => `user-${crypto.randomUUID()}@example.com`;

async function addUser(admin: string, usersPath: string, body: Record<string, unknown> = {}) {
  const res = await call(usersPath, { method: "POST", key: admin, body: { email: email(), ...body } });
  expect(res.status).toBe(201);
  return res.json as { id: string; email: string; role: string; [field: string]: unknown };
}

describe("users", () => {
  describe("create", () => {
    it("returns 201 with the email lower-cased, role MEMBER by default and a Location", async () => {
      const { admin, tenant, usersPath } = await setup();
      const res = await call(usersPath, {
        method: "POST",
        key: admin,
        body: { email: "Ada.Lovelace@Example.COM", name: "Ada" },
      });
      expect(res.status).toBe(201);
      expect(res.json).toMatchObject({
        tenant_id: tenant.id,
        email: "ada.lovelace@example.com",
        name: "Ada",
        role: "MEMBER",
      });
      expect(res.json.id).toMatch(/^usr_[0-9A-HJKMNP-TV-Z]{26}$/);
      expect(res.json.created_at).toBe(res.json.updated_at);
      expect(res.headers.get("Location")).toBe(`${usersPath}/${res.json.id}`);
    });

    it("stores the requested role and a null name when none is given", async () => {
      const { admin, usersPath } = await setup();
      const user = await addUser(admin, usersPath, { role: "READ_ONLY" });
      expect(user.role).toBe("READ_ONLY");
      expect(user.name).toBeNull();
    });

    it("answers a duplicate email, whatever its case, with 409 conflict", async () => {
      const { admin, usersPath } = await setup();
      await addUser(admin, usersPath, { email: "dup@example.com" });
      for (const duplicate of ["dup@example.com", "DUP@Example.com"]) {
        const res = await call(usersPath, { method: "POST", key: admin, body: { email: duplicate } });
        expectProblem(res, 409, "conflict");
      }
      const list = await call(usersPath, { key: admin });
      expect(list.json.data).toHaveLength(1);
    });

    it("allows the same email in two different tenants", async () => {
      const { admin, usersPath } = await setup();
      const other = await createTenant(admin);
      await addUser(admin, usersPath, { email: "shared@example.com" });
      const res = await call(`/v1/tenants/${other.id}/users`, {
        method: "POST",
        key: admin,
        body: { email: "shared@example.com" },
      });
      expect(res.status).toBe(201);
    });

    it("rejects a bad email, an unknown role or an extra field with 400 validation-error", async () => {
      const { admin, usersPath } = await setup();
      const cases: [Record<string, unknown>, string][] = [
        [{ email: "not-an-email" }, "body.email"],
        [{}, "body.email"],
        [{ email: email(), role: "OWNER" }, "body.role"],
        [{ email: email(), name: "" }, "body.name"],
      ];
      for (const [body, path] of cases) {
        const res = await call(usersPath, { method: "POST", key: admin, body });
        expectProblem(res, 400, "validation-error");
        expect(errorPaths(res)).toContain(path);
      }
      expectProblem(
        await call(usersPath, { method: "POST", key: admin, body: { email: email(), admin: true } }),
        400,
        "validation-error",
      );
      expect((await call(usersPath, { key: admin })).json.data).toEqual([]);
    });
  });

  describe("list and get", () => {
    it("lists users newest first and walks every page exactly once", async () => {
      const { admin, usersPath } = await setup();
      const created = new Set<string>();
      for (let i = 0; i < 5; i++) created.add((await addUser(admin, usersPath)).id);

      const seen = (await listAll<{ id: string }>(usersPath, admin, 2)).items.map((u) => u.id);
      expect(seen).toHaveLength(5);
      expect(new Set(seen)).toEqual(created);
      expect([...seen].sort().reverse()).toEqual(seen);
    });

    it("does not list another tenant's users", async () => {
      const { admin, usersPath } = await setup();
      const other = await createTenant(admin);
      const mine = await addUser(admin, usersPath);
      await addUser(admin, `/v1/tenants/${other.id}/users`);
      const res = await call(usersPath, { key: admin });
      expect(res.json.data.map((u: { id: string }) => u.id)).toEqual([mine.id]);
    });

    it("rejects a bad cursor with 400 validation-error", async () => {
      const { admin, usersPath } = await setup();
      expectProblem(await call(`${usersPath}?cursor=%25%25`, { key: admin }), 400, "validation-error");
    });

    it("gets one user", async () => {
      const { admin, usersPath } = await setup();
      const user = await addUser(admin, usersPath, { name: "Grace", role: "TENANT_ADMIN" });
      const res = await call(`${usersPath}/${user.id}`, { key: admin });
      expect(res.status).toBe(200);
      expect(res.json).toEqual(user);
    });

    it("answers an unknown user id with 404 not-found and a malformed one with 400", async () => {
      const { admin, usersPath } = await setup();
      expectProblem(await call(`${usersPath}/${UNKNOWN_USER}`, { key: admin }), 404, "not-found");
      const malformed = await call(`${usersPath}/nope`, { key: admin });
      expectProblem(malformed, 400, "validation-error");
      expect(errorPaths(malformed)).toContain("path.userId");
    });

    it("answers another tenant's user id with 404 not-found", async () => {
      const { admin, usersPath } = await setup();
      const other = await createTenant(admin);
      const stranger = await addUser(admin, `/v1/tenants/${other.id}/users`);
      expectProblem(await call(`${usersPath}/${stranger.id}`, { key: admin }), 404, "not-found");
      expectProblem(
        await call(`${usersPath}/${stranger.id}`, { method: "PATCH", key: admin, body: { role: "READ_ONLY" } }),
        404,
        "not-found",
      );
      expectProblem(await call(`${usersPath}/${stranger.id}`, { method: "DELETE", key: admin }), 404, "not-found");
      const still = await call(`/v1/tenants/${other.id}/users/${stranger.id}`, { key: admin });
      expect(still.json.role).toBe("MEMBER");
    });
  });

  describe("update", () => {
    it("changes a user's role and name and bumps updated_at", async () => {
      const { admin, usersPath } = await setup();
      const user = await addUser(admin, usersPath);
      await new Promise((resolve) => setTimeout(resolve, 5));
      const res = await call(`${usersPath}/${user.id}`, {
        method: "PATCH",
        key: admin,
        body: { role: "TENANT_ADMIN", name: "Renamed" },
      });
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ id: user.id, email: user.email, role: "TENANT_ADMIN", name: "Renamed" });
      expect(Date.parse(res.json.updated_at)).toBeGreaterThan(Date.parse(user.created_at as string));
      expect((await call(`${usersPath}/${user.id}`, { key: admin })).json.role).toBe("TENANT_ADMIN");
    });

    it("clears the name with null and leaves the role alone", async () => {
      const { admin, usersPath } = await setup();
      const user = await addUser(admin, usersPath, { name: "Temp", role: "READ_ONLY" });
      const res = await call(`${usersPath}/${user.id}`, { method: "PATCH", key: admin, body: { name: null } });
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ name: null, role: "READ_ONLY" });
    });

    it("rejects an empty patch, an unknown role or the email with 400 validation-error", async () => {
      const { admin, usersPath } = await setup();
      const user = await addUser(admin, usersPath);
      for (const body of [{}, { role: "OWNER" }, { email: "new@example.com" }]) {
        const res = await call(`${usersPath}/${user.id}`, { method: "PATCH", key: admin, body });
        expectProblem(res, 400, "validation-error");
      }
    });

    it("answers an unknown user id with 404 not-found", async () => {
      const { admin, usersPath } = await setup();
      const res = await call(`${usersPath}/${UNKNOWN_USER}`, { method: "PATCH", key: admin, body: { role: "MEMBER" } });
      expectProblem(res, 404, "not-found");
    });
  });

  describe("delete", () => {
    it("returns 204 and the user is gone", async () => {
      const { admin, usersPath } = await setup();
      const user = await addUser(admin, usersPath);
      const res = await call(`${usersPath}/${user.id}`, { method: "DELETE", key: admin });
      expect(res.status).toBe(204);
      expect(res.text).toBe("");
      expectProblem(await call(`${usersPath}/${user.id}`, { key: admin }), 404, "not-found");
      expectProblem(await call(`${usersPath}/${user.id}`, { method: "DELETE", key: admin }), 404, "not-found");
    });

    it("revokes every key issued to the user so their next request gets 401", async () => {
      const { admin, tenant, usersPath } = await setup();
      const user = await addUser(admin, usersPath, { role: "TENANT_ADMIN" });
      const bystander = await tenantKey(admin, tenant.id, ["entries:read"]);
      const issued = [
        await tenantKey(admin, tenant.id, ["entries:read"], { user_id: user.id }),
        await tenantKey(admin, tenant.id, ["entries:read", "entries:write", "tenant:admin"], { user_id: user.id }),
      ];
      for (const key of issued) expect((await call("/v1/me", { key: key.secret })).status).toBe(200);

      expect((await call(`${usersPath}/${user.id}`, { method: "DELETE", key: admin })).status).toBe(204);

      for (const key of issued) {
        expectProblem(await call("/v1/me", { key: key.secret }), 401, "invalid-api-key");
        const row = await call(`/v1/tenants/${tenant.id}/keys/${key.id}`, { key: admin });
        expect(row.json.revoked_at).not.toBeNull();
      }
      // Keys not issued to that user are untouched.
      expect((await call("/v1/me", { key: bystander.secret })).status).toBe(200);
    });

    it("keeps the original revoked_at of a key that was already revoked", async () => {
      const { admin, tenant, usersPath } = await setup();
      const user = await addUser(admin, usersPath);
      const key = await tenantKey(admin, tenant.id, ["entries:read"], { user_id: user.id });
      const revoked = await call(`/v1/tenants/${tenant.id}/keys/${key.id}`, { method: "DELETE", key: admin });
      await new Promise((resolve) => setTimeout(resolve, 5));
      await call(`${usersPath}/${user.id}`, { method: "DELETE", key: admin });
      const row = await call(`/v1/tenants/${tenant.id}/keys/${key.id}`, { key: admin });
      expect(row.json.revoked_at).toBe(revoked.json.revoked_at);
    });

    it("lets a user's own key delete that user, after which the key is refused", async () => {
      const { admin, tenant, usersPath } = await setup();
      const user = await addUser(admin, usersPath, { role: "TENANT_ADMIN" });
      const key = await tenantKey(admin, tenant.id, ["tenant:admin"], { user_id: user.id });
      expect((await call(`${usersPath}/${user.id}`, { method: "DELETE", key: key.secret })).status).toBe(204);
      expectProblem(await call(usersPath, { key: key.secret }), 401, "invalid-api-key");
    });

    it("allows the email to be reused once the user is removed", async () => {
      const { admin, usersPath } = await setup();
      const user = await addUser(admin, usersPath, { email: "again@example.com" });
      await call(`${usersPath}/${user.id}`, { method: "DELETE", key: admin });
      const res = await call(usersPath, { method: "POST", key: admin, body: { email: "again@example.com" } });
      expect(res.status).toBe(201);
      expect(res.json.id).not.toBe(user.id);
    });

    it("answers an unknown user id with 404 not-found", async () => {
      const { admin, usersPath } = await setup();
      expectProblem(await call(`${usersPath}/${UNKNOWN_USER}`, { method: "DELETE", key: admin }), 404, "not-found");
    });
  });

  describe("authorization", () => {
    it("answers a key without tenant:admin with 403 insufficient-scope on every user route", async () => {
      const { admin, tenant, usersPath } = await setup();
      const user = await addUser(admin, usersPath);
      const member = await tenantKey(admin, tenant.id, ["entries:read", "entries:write"]);
      const requests = [
        call(usersPath, { key: member.secret }),
        call(usersPath, { method: "POST", key: member.secret, body: { email: email() } }),
        call(`${usersPath}/${user.id}`, { key: member.secret }),
        call(`${usersPath}/${user.id}`, { method: "PATCH", key: member.secret, body: { role: "TENANT_ADMIN" } }),
        call(`${usersPath}/${user.id}`, { method: "DELETE", key: member.secret }),
      ];
      for (const res of await Promise.all(requests)) expectProblem(res, 403, "insufficient-scope");
      expect((await call(`${usersPath}/${user.id}`, { key: admin })).json.role).toBe("MEMBER");
    });

    it("lets a tenant key with tenant:admin manage its own tenant's users", async () => {
      const { admin, tenant, usersPath } = await setup();
      const owner = await tenantKey(admin, tenant.id);
      const res = await call(usersPath, { method: "POST", key: owner.secret, body: { email: email() } });
      expect(res.status).toBe(201);
      expect((await call(usersPath, { key: owner.secret })).json.data).toHaveLength(1);
    });

    it("answers a tenant key naming another tenant with 404 not-found", async () => {
      const { admin, tenant } = await setup();
      const other = await createTenant(admin);
      const owner = await tenantKey(admin, tenant.id);
      const otherUsers = `/v1/tenants/${other.id}/users`;
      expectProblem(await call(otherUsers, { key: owner.secret }), 404, "not-found");
      expectProblem(
        await call(otherUsers, { method: "POST", key: owner.secret, body: { email: email() } }),
        404,
        "not-found",
      );
    });

    it("answers an unauthenticated request with 401", async () => {
      const { usersPath } = await setup();
      expectProblem(await call(usersPath), 401, "unauthenticated");
    });
  });
});
