import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { sealBookmark } from "../../src/shards/bookmark";
import { adminKey, call, createTenant, errorPaths, expectProblem, tenantKey } from "../helpers";

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

async function tenantOn(shard_id: string) {
  const tenant = await createTenant(admin, { shard_id });
  const { secret } = await tenantKey(admin, tenant.id, ["entries:read", "entries:write"]);
  const entries = `/v1/tenants/${tenant.id}/entries`;
  const write = async () => {
    const res = await call(entries, { method: "POST", key: secret, body: { data: { n: 1 } } });
    expect(res.status).toBe(201);
    return res;
  };
  return { tenant, entries, key: secret, write };
}

const bookmarkOf = (res: { headers: Headers }) => res.headers.get("X-Shard-Bookmark") as string;

describe("X-Shard-Bookmark (D1 read replicas)", () => {
  it("comes with every data response of a D1 tenant; sent back, the read sees at least that write", async () => {
    const { entries, key, write } = await tenantOn("d1-shared-1");
    const created = await write();
    const read = await call(`${entries}/${created.json.id}`, {
      key,
      headers: { "X-Shard-Bookmark": bookmarkOf(created) },
    });
    expect(read.status).toBe(200);
    expect(read.json.data).toEqual({ n: 1 });
    expect(bookmarkOf(read)).toMatch(/^v1\./);
    expect(read.headers.get("Access-Control-Expose-Headers")).toContain("X-Shard-Bookmark");
  });

  it("is sealed: opaque, never the same twice, telling nothing of other tenants' writes", async () => {
    const a = await tenantOn("d1-shared-0");
    const b = await tenantOn("d1-shared-0");
    const before = bookmarkOf(await call(a.entries, { key: a.key }));
    for (let i = 0; i < 10; i++) await b.write();
    const after = bookmarkOf(await call(a.entries, { key: a.key }));
    const again = bookmarkOf(await call(a.entries, { key: a.key }));
    for (const bookmark of [before, after, again]) {
      expect(bookmark).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
      // D1's own bookmark is hex groups with a commit counter; none of it shows through.
      expect(Buffer.from(bookmark.slice(3), "base64url").toString("latin1")).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{8}/);
    }
    expect(new Set([before.length, after.length, again.length]).size).toBe(1);
    expect(after).not.toBe(again);
  });

  it("answers 400 to another tenant's bookmark, even from the same shard", async () => {
    const a = await tenantOn("d1-shared-0");
    const b = await tenantOn("d1-shared-0");
    const theirs = bookmarkOf(await a.write());
    const res = await call(b.entries, { key: b.key, headers: { "X-Shard-Bookmark": theirs } });
    expectProblem(res, 400, "validation-error");
    expect(errorPaths(res)).toEqual(["header.X-Shard-Bookmark"]);
  });

  it("answers 400 to a malformed or edited bookmark, or a D1 bookmark passed as it is", async () => {
    const { entries, key, write } = await tenantOn("d1-shared-1");
    const own = bookmarkOf(await write());
    // One character of the ciphertext changed (well inside it, where every bit counts).
    const edited = `${own.slice(0, 20)}${own[20] === "A" ? "B" : "A"}${own.slice(21)}`;
    for (const bookmark of ["not a bookmark", edited, "00000001-00000002-00004f9c-9a1b2c3d", `${own}x`, "v1."]) {
      const res = await call(entries, { key, headers: { "X-Shard-Bookmark": bookmark } });
      expectProblem(res, 400, "validation-error");
      expect(errorPaths(res)).toEqual(["header.X-Shard-Bookmark"]);
    }
  });

  it("sets aside a bookmark the tenant got on the shard it has moved from, and reads on", async () => {
    const { tenant, entries, key, write } = await tenantOn("d1-shared-1");
    await write();
    const fromBefore = await sealBookmark(env, tenant.id, "d1-shared-0", "00000001-00000002-00004f9c-9a1b2c3d");
    const res = await call(entries, { key, headers: { "X-Shard-Bookmark": fromBefore } });
    expect(res.status).toBe(200);
    expect(res.json.data).toHaveLength(1);
  });

  it("is absent for a PostgreSQL tenant, whose reads always see the primary", async () => {
    const { write } = await tenantOn("pg-0");
    expect((await write()).headers.get("X-Shard-Bookmark")).toBeNull();
  });
});
