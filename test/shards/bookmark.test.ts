import { beforeAll, describe, expect, it } from "vitest";
import { adminKey, call, createTenant, errorPaths, expectProblem, tenantKey } from "../helpers";

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

async function tenantOn(shard_id: string) {
  const tenant = await createTenant(admin, { shard_id });
  const { secret } = await tenantKey(admin, tenant.id, ["entries:read", "entries:write"]);
  return { entries: `/v1/tenants/${tenant.id}/entries`, key: secret };
}

describe("X-Shard-Bookmark (D1 read replicas)", () => {
  it("comes with every data response of a D1 tenant; sent back, the read sees at least that write", async () => {
    const { entries, key } = await tenantOn("d1-shared-1");
    const created = await call(entries, { method: "POST", key, body: { data: { n: 1 } } });
    expect(created.status).toBe(201);
    const bookmark = created.headers.get("X-Shard-Bookmark");
    expect(bookmark).toMatch(/^[0-9a-f-]+$/);

    const read = await call(`${entries}/${created.json.id}`, {
      key,
      headers: { "X-Shard-Bookmark": bookmark as string },
    });
    expect(read.status).toBe(200);
    expect(read.json.data).toEqual({ n: 1 });
    // Bookmarks sort oldest to newest: the read's session is at least where the write left it.
    expect((read.headers.get("X-Shard-Bookmark") as string) >= (bookmark as string)).toBe(true);
    expect(read.headers.get("Access-Control-Expose-Headers")).toContain("X-Shard-Bookmark");
  });

  it("answers 400 to a malformed bookmark", async () => {
    const { entries, key } = await tenantOn("d1-shared-1");
    const res = await call(entries, { key, headers: { "X-Shard-Bookmark": "not a bookmark" } });
    expectProblem(res, 400, "validation-error");
    expect(errorPaths(res)).toEqual(["header.X-Shard-Bookmark"]);
  });

  it("is absent for a PostgreSQL tenant, whose reads always see the primary", async () => {
    const { entries, key } = await tenantOn("pg-0");
    const created = await call(entries, { method: "POST", key, body: { data: {} } });
    expect(created.status).toBe(201);
    expect(created.headers.get("X-Shard-Bookmark")).toBeNull();
  });
});
