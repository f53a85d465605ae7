import { beforeAll, describe, expect, it } from "vitest";
import { adminKey, call, createTenant, errorPaths, expectProblem, listAll, tenantKey, uniqueSlug } from "../helpers";

type TenantJson = { id: string; slug: string; status: string; tier: string; shard_id: string | null };

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

/** Walks every page of GET /v1/tenants with the given query. */
async function listTenants(query = "", limit = 100): Promise<{ items: TenantJson[]; pages: number }> {
  const { items, pages } = await listAll<TenantJson>(`/v1/tenants?${query}`, admin, limit);
  return { items, pages: pages.length };
}

describe("tenants", () => {
  it("creates a tenant and provisions it on a shard", async () => {
    const res = await call("/v1/tenants", {
      method: "POST",
      key: admin,
      body: { name: "Acme", slug: uniqueSlug("acme"), tier: "FREE" },
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ name: "Acme", tier: "FREE", status: "ACTIVE", status_reason: null });
    expect(res.json.shard_id).toMatch(/^d1-shared-/);
    expect(res.headers.get("Location")).toBe(`/v1/tenants/${res.json.id}`);
  });
});

describe("POST /v1/tenants", () => {
  it("creates a tenant with every field, including trial_ends_at", async () => {
    const slug = uniqueSlug("full");
    const before = Date.now();
    const res = await call("/v1/tenants", {
      method: "POST",
      key: admin,
      body: { name: "  Full Corp  ", slug, tier: "STANDARD", trial_ends_at: "2031-05-06T07:08:09.000Z" },
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      slug,
      name: "Full Corp",
      tier: "STANDARD",
      status: "ACTIVE",
      status_reason: null,
      trial_ends_at: "2031-05-06T07:08:09.000Z",
    });
    expect(res.json.id).toMatch(/^ten_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(Date.parse(res.json.created_at)).toBeGreaterThanOrEqual(before - 1);
    expect(Date.parse(res.json.updated_at)).toBeGreaterThanOrEqual(Date.parse(res.json.created_at));
    expect(Object.keys(res.json).sort()).toEqual(
      [
        "archived_at",
        "created_at",
        "data_region",
        "deleted_at",
        "id",
        "last_active_at",
        "limit_overrides",
        "name",
        "purge_after",
        "shard_id",
        "slug",
        "status",
        "status_reason",
        "tier",
        "trial_ends_at",
        "updated_at",
      ].sort(),
    );

    const read = await call(`/v1/tenants/${res.json.id}`, { key: admin });
    expect(read.status).toBe(200);
    expect(read.json).toEqual(res.json);
  });

  it("leaves trial_ends_at null when it is not sent", async () => {
    const tenant = await createTenant(admin, { tier: "FREE" });
    expect(tenant.trial_ends_at).toBeNull();
  });

  it("answers 409 conflict for a slug that is already taken", async () => {
    const slug = uniqueSlug("dup");
    await createTenant(admin, { slug });
    const res = await call("/v1/tenants", { method: "POST", key: admin, body: { name: "Other", slug, tier: "FREE" } });
    expectProblem(res, 409, "conflict");
    expect(res.json.detail).toContain(slug);
  });

  it("answers 422 unprocessable-entity for an unknown tier", async () => {
    const slug = uniqueSlug("tier");
    const res = await call("/v1/tenants", {
      method: "POST",
      key: admin,
      body: { name: "Tiered", slug, tier: "PLATINUM" },
    });
    expectProblem(res, 422, "unprocessable-entity");
    expect(res.json.detail).toContain("PLATINUM");
    const { items } = await listTenants();
    expect(items.map((t) => t.slug)).not.toContain(slug);
  });

  it.each([
    ["upper-case letters", "Acme"],
    ["a leading hyphen", "-acme"],
    ["a trailing hyphen", "acme-"],
    ["an underscore", "ac_me"],
    ["more than 63 characters", "a".repeat(64)],
    ["an empty string", ""],
  ])("answers 400 with body.slug for a slug with %s", async (_label, slug) => {
    const res = await call("/v1/tenants", { method: "POST", key: admin, body: { name: "Bad", slug, tier: "FREE" } });
    expectProblem(res, 400, "validation-error");
    expect(errorPaths(res)).toEqual(["body.slug"]);
  });

  it("accepts a slug of exactly 63 characters", async () => {
    const slug = `${uniqueSlug("s")}`.padEnd(63, "x");
    const res = await call("/v1/tenants", { method: "POST", key: admin, body: { name: "Long", slug, tier: "FREE" } });
    expect(res.status).toBe(201);
    expect(res.json.slug).toBe(slug);
  });

  it("answers 400 with body.name when the name is missing", async () => {
    const res = await call("/v1/tenants", {
      method: "POST",
      key: admin,
      body: { slug: uniqueSlug(), tier: "FREE" },
    });
    expectProblem(res, 400, "validation-error");
    expect(errorPaths(res)).toEqual(["body.name"]);
  });

  it("answers 400 with body.name when the name is only whitespace", async () => {
    const res = await call("/v1/tenants", {
      method: "POST",
      key: admin,
      body: { name: "   ", slug: uniqueSlug(), tier: "FREE" },
    });
    expectProblem(res, 400, "validation-error");
    expect(errorPaths(res)).toEqual(["body.name"]);
  });

  it("answers 400 naming the body when it carries an unknown field", async () => {
    const res = await call("/v1/tenants", {
      method: "POST",
      key: admin,
      body: { name: "Extra", slug: uniqueSlug(), tier: "FREE", status: "ACTIVE" },
    });
    expectProblem(res, 400, "validation-error");
    expect(res.json.errors).toEqual([expect.objectContaining({ path: "body", code: "unrecognized_keys" })]);
    expect(res.json.errors[0].message).toContain("status");
  });

  it("answers 400 listing every invalid field at once", async () => {
    const res = await call("/v1/tenants", {
      method: "POST",
      key: admin,
      body: { slug: "NOPE", tier: "lower", trial_ends_at: "tomorrow" },
    });
    expectProblem(res, 400, "validation-error");
    expect(errorPaths(res).sort()).toEqual(["body.name", "body.slug", "body.tier", "body.trial_ends_at"]);
  });

  it("answers 403 forbidden to a tenant key, even one with tenant:admin", async () => {
    const own = await createTenant(admin);
    const key = await tenantKey(admin, own.id);
    const slug = uniqueSlug("nope");
    const res = await call("/v1/tenants", {
      method: "POST",
      key: key.secret,
      body: { name: "Sneaky", slug, tier: "FREE" },
    });
    expectProblem(res, 403, "forbidden");
    const { items } = await listTenants();
    expect(items.map((t) => t.slug)).not.toContain(slug);
  });

  it("answers 401 without a key", async () => {
    const res = await call("/v1/tenants", { method: "POST", body: { name: "Anon", slug: uniqueSlug(), tier: "FREE" } });
    expectProblem(res, 401, "unauthenticated");
  });
});

describe("GET /v1/tenants", () => {
  it("walks every tenant exactly once with limit=2 cursor pagination, newest first", async () => {
    for (let i = 0; i < 3; i++) await createTenant(admin);
    const everything = await listTenants("", 100);
    expect(everything.pages).toBe(1);

    const walked = await listTenants("", 2);
    const ids = walked.items.map((t) => t.id);
    expect(walked.pages).toBe(Math.ceil(everything.items.length / 2));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(everything.items.map((t) => t.id));
    expect([...ids].sort().reverse()).toEqual(ids);
  });

  it("answers next_cursor null on the last page", async () => {
    await createTenant(admin);
    const res = await call("/v1/tenants?limit=100", { key: admin });
    expect(res.status).toBe(200);
    expect(res.json.next_cursor).toBeNull();
    const first = await call("/v1/tenants?limit=1", { key: admin });
    expect(typeof first.json.next_cursor).toBe("string");
    expect(first.json.data).toHaveLength(1);
  });

  it("filters by status", async () => {
    const suspended = await createTenant(admin);
    const active = await createTenant(admin);
    const patch = await call(`/v1/tenants/${suspended.id}`, {
      method: "PATCH",
      key: admin,
      body: { status: "SUSPENDED" },
    });
    expect(patch.status).toBe(200);

    const onlySuspended = await listTenants("status=SUSPENDED", 2);
    expect(onlySuspended.items.map((t) => t.id)).toContain(suspended.id);
    expect(onlySuspended.items.map((t) => t.id)).not.toContain(active.id);
    for (const t of onlySuspended.items) expect(t.status).toBe("SUSPENDED");

    const onlyActive = await listTenants("status=ACTIVE");
    expect(onlyActive.items.map((t) => t.id)).toContain(active.id);
    expect(onlyActive.items.map((t) => t.id)).not.toContain(suspended.id);
    for (const t of onlyActive.items) expect(t.status).toBe("ACTIVE");
  });

  it("filters by tier", async () => {
    const free = await createTenant(admin, { tier: "FREE" });
    const enterprise = await createTenant(admin, { tier: "ENTERPRISE" });

    const enterprises = await listTenants("tier=ENTERPRISE", 2);
    expect(enterprises.items.map((t) => t.id)).toContain(enterprise.id);
    expect(enterprises.items.map((t) => t.id)).not.toContain(free.id);
    for (const t of enterprises.items) expect(t.tier).toBe("ENTERPRISE");
  });

  it("combines the status and tier filters", async () => {
    const target = await createTenant(admin, { tier: "FREE" });
    await call(`/v1/tenants/${target.id}`, { method: "PATCH", key: admin, body: { status: "SUSPENDED" } });
    const other = await createTenant(admin, { tier: "FREE" });

    const { items } = await listTenants("status=SUSPENDED&tier=FREE");
    expect(items.map((t) => t.id)).toContain(target.id);
    expect(items.map((t) => t.id)).not.toContain(other.id);
    for (const t of items) expect(t).toMatchObject({ status: "SUSPENDED", tier: "FREE" });
  });

  it("answers an empty page for a tier nobody has", async () => {
    const res = await call("/v1/tenants?tier=NOBODY", { key: admin });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ data: [], next_cursor: null });
  });

  it("answers 400 with query.status for an unknown status", async () => {
    const res = await call("/v1/tenants?status=GONE", { key: admin });
    expectProblem(res, 400, "validation-error");
    expect(errorPaths(res)).toEqual(["query.status"]);
  });

  it("answers 400 with query.cursor for a cursor that is not one", async () => {
    const res = await call("/v1/tenants?cursor=not-a-cursor", { key: admin });
    expectProblem(res, 400, "validation-error");
    expect(errorPaths(res)).toEqual(["query.cursor"]);
  });

  it.each(["0", "101", "two"])("answers 400 with query.limit for limit=%s", async (limit) => {
    const res = await call(`/v1/tenants?limit=${limit}`, { key: admin });
    expectProblem(res, 400, "validation-error");
    expect(errorPaths(res)).toEqual(["query.limit"]);
  });

  it("answers 403 forbidden to a tenant key", async () => {
    const tenant = await createTenant(admin);
    const key = await tenantKey(admin, tenant.id);
    const res = await call("/v1/tenants", { key: key.secret });
    expectProblem(res, 403, "forbidden");
  });
});

describe("GET /v1/tenants/:id", () => {
  it("answers 200 to a platform admin", async () => {
    const tenant = await createTenant(admin);
    const res = await call(`/v1/tenants/${tenant.id}`, { key: admin });
    expect(res.status).toBe(200);
    expect(res.json).toEqual(tenant);
  });

  it("answers 200 to the tenant's own key with tenant:admin", async () => {
    const tenant = await createTenant(admin);
    const key = await tenantKey(admin, tenant.id, ["tenant:admin"]);
    const res = await call(`/v1/tenants/${tenant.id}`, { key: key.secret });
    expect(res.status).toBe(200);
    expect(res.json.id).toBe(tenant.id);
  });

  it("answers 403 to the tenant's own key without tenant:admin", async () => {
    const tenant = await createTenant(admin);
    const key = await tenantKey(admin, tenant.id, ["entries:read", "entries:write"]);
    const res = await call(`/v1/tenants/${tenant.id}`, { key: key.secret });
    expectProblem(res, 403, "insufficient-scope");
    expect(res.json.required_scopes).toEqual(["tenant:admin"]);
  });

  it("answers 404 to another tenant's key, as if the tenant did not exist", async () => {
    const tenant = await createTenant(admin);
    const other = await createTenant(admin);
    const key = await tenantKey(admin, other.id);
    const res = await call(`/v1/tenants/${tenant.id}`, { key: key.secret });
    expectProblem(res, 404, "not-found");
  });

  it("answers 404 for a tenant id that does not exist", async () => {
    const res = await call("/v1/tenants/ten_00000000000000000000000000", { key: admin });
    expectProblem(res, 404, "not-found");
  });

  it("answers 404 for a path segment that is not a tenant id at all", async () => {
    const res = await call("/v1/tenants/acme", { key: admin });
    expectProblem(res, 404, "not-found");
  });
});

describe("PATCH /v1/tenants/:id", () => {
  const patch = (id: string, body: unknown, key = admin) => call(`/v1/tenants/${id}`, { method: "PATCH", key, body });

  it("renames a tenant and moves updated_at forward", async () => {
    const tenant = await createTenant(admin, { name: "Old Name" });
    const res = await patch(tenant.id, { name: "New Name" });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: tenant.id, name: "New Name", slug: tenant.slug, tier: tenant.tier });
    expect(res.json.created_at).toBe(tenant.created_at);
    expect(Date.parse(res.json.updated_at)).toBeGreaterThanOrEqual(Date.parse(tenant.updated_at as string));
    expect((await call(`/v1/tenants/${tenant.id}`, { key: admin })).json.name).toBe("New Name");
  });

  it("changes the tier", async () => {
    const tenant = await createTenant(admin, { tier: "FREE" });
    const res = await patch(tenant.id, { tier: "ENTERPRISE" });
    expect(res.status).toBe(200);
    expect(res.json.tier).toBe("ENTERPRISE");
    expect(res.json.shard_id).toBe(tenant.shard_id);
  });

  it("answers 422 unprocessable-entity for an unknown tier and leaves the tenant unchanged", async () => {
    const tenant = await createTenant(admin, { tier: "FREE" });
    const res = await patch(tenant.id, { tier: "GOLD", name: "Should Not Stick" });
    expectProblem(res, 422, "unprocessable-entity");
    const read = await call(`/v1/tenants/${tenant.id}`, { key: admin });
    expect(read.json).toMatchObject({ tier: "FREE", name: tenant.name });
  });

  it("suspends a tenant, which locks out its keys, and resumes it", async () => {
    const tenant = await createTenant(admin);
    const key = await tenantKey(admin, tenant.id);
    expect((await call(`/v1/tenants/${tenant.id}`, { key: key.secret })).status).toBe(200);

    const suspended = await patch(tenant.id, { status: "SUSPENDED" });
    expect(suspended.status).toBe(200);
    expect(suspended.json).toMatchObject({ status: "SUSPENDED", status_reason: null });
    expectProblem(await call(`/v1/tenants/${tenant.id}`, { key: key.secret }), 403, "tenant-suspended");
    expect((await call(`/v1/tenants/${tenant.id}`, { key: admin })).json.status).toBe("SUSPENDED");

    const resumed = await patch(tenant.id, { status: "ACTIVE" });
    expect(resumed.status).toBe(200);
    expect(resumed.json.status).toBe("ACTIVE");
    expect((await call(`/v1/tenants/${tenant.id}`, { key: key.secret })).status).toBe(200);
  });

  it("accepts suspending a tenant that is already suspended", async () => {
    const tenant = await createTenant(admin);
    expect((await patch(tenant.id, { status: "SUSPENDED" })).status).toBe(200);
    const again = await patch(tenant.id, { status: "SUSPENDED" });
    expect(again.status).toBe(200);
    expect(again.json.status).toBe("SUSPENDED");
  });

  it("answers 403 forbidden to the tenant's own key, even with tenant:admin", async () => {
    const tenant = await createTenant(admin, { name: "Mine" });
    const key = await tenantKey(admin, tenant.id);
    const res = await patch(tenant.id, { name: "Renamed By Tenant" }, key.secret);
    expectProblem(res, 403, "forbidden");
    expect((await call(`/v1/tenants/${tenant.id}`, { key: admin })).json.name).toBe("Mine");
  });

  it("answers 403 forbidden when the tenant's own key tries to resume its tenant", async () => {
    const tenant = await createTenant(admin);
    const key = await tenantKey(admin, tenant.id);
    expectProblem(await patch(tenant.id, { status: "ACTIVE" }, key.secret), 403, "forbidden");
  });

  it("answers 400 for an empty body", async () => {
    const tenant = await createTenant(admin);
    const res = await patch(tenant.id, {});
    expectProblem(res, 400, "validation-error");
    expect(res.json.errors.length).toBeGreaterThan(0);
    expect(errorPaths(res)[0]).toMatch(/^body/);
  });

  it("answers 400 with body.status for a status that cannot be set by hand", async () => {
    const tenant = await createTenant(admin);
    const res = await patch(tenant.id, { status: "PROVISION_ERROR" });
    expectProblem(res, 400, "validation-error");
    expect(errorPaths(res)).toEqual(["body.status"]);
  });

  it("answers 400 when the body tries to change the slug", async () => {
    const tenant = await createTenant(admin);
    const res = await patch(tenant.id, { slug: "renamed" });
    expectProblem(res, 400, "validation-error");
    expect(res.json.errors).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: "body", code: "unrecognized_keys" })]),
    );
    expect((await call(`/v1/tenants/${tenant.id}`, { key: admin })).json.slug).toBe(tenant.slug);
  });

  it("answers 404 for a tenant that does not exist", async () => {
    const res = await patch("ten_00000000000000000000000000", { name: "Ghost" });
    expectProblem(res, 404, "not-found");
  });
});

describe("POST /v1/tenants/:id/provision", () => {
  it("answers 409 conflict for a tenant that is already ACTIVE", async () => {
    const tenant = await createTenant(admin);
    const res = await call(`/v1/tenants/${tenant.id}/provision`, { method: "POST", key: admin });
    expectProblem(res, 409, "conflict");
    expect(res.json.detail).toContain("ACTIVE");
  });

  it("answers 403 forbidden to the tenant's own key", async () => {
    const tenant = await createTenant(admin);
    const key = await tenantKey(admin, tenant.id);
    const res = await call(`/v1/tenants/${tenant.id}/provision`, { method: "POST", key: key.secret });
    expectProblem(res, 403, "forbidden");
  });
});
