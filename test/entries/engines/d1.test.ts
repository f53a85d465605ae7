import { env } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import * as schema from "../../../src/db/shard-tables";
import { entriesOnD1 } from "../../../src/entries/engines/d1";
import type { Entry } from "../../../src/entries/table";
import { newId } from "../../../src/http/ids";
import { AppError } from "../../../src/http/problems";
import type { Precondition } from "../../../src/shards/store";
import { adminKey, call, createTenant, shardBinding, TEST_CHANGE, tenantKey } from "../../helpers";

const shard0 = () => drizzle(env.SHARD_D1_0, { schema });

/** The problem type a rejected call failed with, or the error itself when it is not an AppError. */
async function failure(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AppError) return { type: error.type, headers: error.headers };
    throw error;
  }
  throw new Error("expected the call to fail");
}

const unlimited = { maxEntries: null, maxStorageBytes: null };

const utf8Length = (data: unknown) => new TextEncoder().encode(JSON.stringify(data)).byteLength;

describe("tenants sharing a shard", () => {
  it("never see each other's entries in get, list, replace or delete", async () => {
    const db = shard0();
    const tenantA = newId("ten");
    const tenantB = newId("ten");
    const a1 = await entriesOnD1(db).createEntry(
      tenantA,
      { data: { owner: "A", n: 1 }, tags: ["shared"] },
      unlimited,
      TEST_CHANGE,
    );
    const a2 = await entriesOnD1(db).createEntry(
      tenantA,
      { data: { owner: "A", n: 2 }, tags: ["shared", "a-only"] },
      unlimited,
      TEST_CHANGE,
    );
    const b1 = await entriesOnD1(db).createEntry(
      tenantB,
      { data: { owner: "B" }, tags: ["shared"] },
      unlimited,
      TEST_CHANGE,
    );

    expect(await failure(entriesOnD1(db).getEntry(tenantB, a1.id))).toMatchObject({ type: "not-found" });
    expect(await failure(entriesOnD1(db).getEntry(tenantA, b1.id))).toMatchObject({ type: "not-found" });

    const listB = await entriesOnD1(db).listEntries(tenantB, {}, { limit: 100 });
    expect(listB).toEqual({ items: [b1], hasMore: false });
    const taggedB = await entriesOnD1(db).listEntries(tenantB, { tag: "shared" }, { limit: 100 });
    expect(taggedB.items.map((e) => e.id)).toEqual([b1.id]);
    expect((await entriesOnD1(db).listEntries(tenantB, { tag: "a-only" }, { limit: 100 })).items).toEqual([]);
    const listA = await entriesOnD1(db).listEntries(tenantA, { tag: "shared" }, { limit: 100 });
    expect(listA.items.map((e) => e.id)).toEqual([a2.id, a1.id]);

    for (const precondition of [undefined, { ifMatch: "*" }, { ifMatch: [1] }] as Precondition[]) {
      const replaced = entriesOnD1(db).replaceEntry(
        tenantB,
        a1.id,
        { data: { owner: "B" }, tags: [] },
        precondition,
        unlimited,
        TEST_CHANGE,
      );
      expect(await failure(replaced)).toMatchObject({ type: "not-found" });
      expect(await failure(entriesOnD1(db).deleteEntry(tenantB, a1.id, precondition, TEST_CHANGE))).toMatchObject({
        type: "not-found",
      });
    }

    expect(await entriesOnD1(db).getEntry(tenantA, a1.id)).toEqual(a1);
    expect((await entriesOnD1(db).listEntries(tenantA, {}, { limit: 100 })).items).toEqual([a2, a1]);
  });

  it("keeps a cursor from one tenant from reaching another tenant's entries", async () => {
    const db = shard0();
    const tenantA = newId("ten");
    const tenantB = newId("ten");
    await entriesOnD1(db).createEntry(tenantA, { data: {}, tags: ["t"] }, unlimited, TEST_CHANGE);
    const b = await entriesOnD1(db).createEntry(tenantB, { data: {}, tags: ["t"] }, unlimited, TEST_CHANGE);
    const a = await entriesOnD1(db).createEntry(tenantA, { data: {}, tags: ["t"] }, unlimited, TEST_CHANGE);
    // Continuing after A's newest id must not surface B's older entry in A's list.
    const after = await entriesOnD1(db).listEntries(tenantA, { tag: "t" }, { limit: 10, after: a.id });
    expect(after.items.map((e) => e.tenantId)).toEqual([tenantA]);
    expect(after.items.map((e) => e.id)).not.toContain(b.id);
  });
});

describe("concurrent writers", () => {
  it("lets exactly one of five replaces with If-Match 1 succeed; the rest fail with precondition-failed", async () => {
    const db = shard0();
    const tenant = newId("ten");
    const entry = await entriesOnD1(db).createEntry(
      tenant,
      { data: { n: 0 }, tags: ["before"] },
      unlimited,
      TEST_CHANGE,
    );

    const results = await Promise.allSettled(
      [1, 2, 3, 4, 5].map((n) =>
        entriesOnD1(db).replaceEntry(
          tenant,
          entry.id,
          { data: { n }, tags: [`w${n}`] },
          { ifMatch: [1] },
          unlimited,
          TEST_CHANGE,
        ),
      ),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r) => r.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(4);
    for (const r of lost) {
      expect(r.reason).toBeInstanceOf(AppError);
      expect((r.reason as AppError).type).toBe("precondition-failed");
      expect((r.reason as AppError).headers.ETag).toBe('"2"');
    }

    const winner = (won[0] as PromiseFulfilledResult<Entry>).value;
    expect(winner.version).toBe(2);
    const stored = await entriesOnD1(db).getEntry(tenant, entry.id);
    expect(stored).toEqual(winner);
    // The tag index follows the winner only.
    const tag = winner.tags[0] as string;
    expect((await entriesOnD1(db).listEntries(tenant, { tag }, { limit: 10 })).items.map((e) => e.id)).toEqual([
      entry.id,
    ]);
    for (const n of [1, 2, 3, 4, 5].filter((n) => `w${n}` !== tag)) {
      expect((await entriesOnD1(db).listEntries(tenant, { tag: `w${n}` }, { limit: 10 })).items).toEqual([]);
    }
    expect((await entriesOnD1(db).listEntries(tenant, { tag: "before" }, { limit: 10 })).items).toEqual([]);
  });

  it("applies every one of five concurrent unconditional replaces, one version each", async () => {
    const db = shard0();
    const tenant = newId("ten");
    const entry = await entriesOnD1(db).createEntry(tenant, { data: { n: 0 }, tags: [] }, unlimited, TEST_CHANGE);

    const results = await Promise.allSettled(
      [1, 2, 3, 4, 5].map((n) =>
        entriesOnD1(db).replaceEntry(tenant, entry.id, { data: { n }, tags: [] }, undefined, unlimited, TEST_CHANGE),
      ),
    );
    const reasons = results.flatMap((r) => (r.status === "rejected" ? [String(r.reason)] : []));
    expect(reasons).toEqual([]);
    const versions = results.map((r) => (r as PromiseFulfilledResult<Entry>).value.version);
    expect(versions.sort()).toEqual([2, 3, 4, 5, 6]);
    expect((await entriesOnD1(db).getEntry(tenant, entry.id)).version).toBe(6);
  });

  it("applies every one of five concurrent replaces with If-Match *, since any current version matches", async () => {
    const db = shard0();
    const tenant = newId("ten");
    const entry = await entriesOnD1(db).createEntry(tenant, { data: { n: 0 }, tags: [] }, unlimited, TEST_CHANGE);

    const results = await Promise.allSettled(
      [1, 2, 3, 4, 5].map((n) =>
        entriesOnD1(db).replaceEntry(
          tenant,
          entry.id,
          { data: { n }, tags: [] },
          { ifMatch: "*" },
          unlimited,
          TEST_CHANGE,
        ),
      ),
    );
    const reasons = results.flatMap((r) => (r.status === "rejected" ? [String(r.reason)] : []));
    expect(reasons).toEqual([]);
    expect((await entriesOnD1(db).getEntry(tenant, entry.id)).version).toBe(6);
  });

  it("lets only one of a conditional replace and a conditional delete of the same version win", async () => {
    const db = shard0();
    const tenant = newId("ten");
    const entry = await entriesOnD1(db).createEntry(tenant, { data: {}, tags: [] }, unlimited, TEST_CHANGE);
    const results = await Promise.allSettled([
      entriesOnD1(db).replaceEntry(
        tenant,
        entry.id,
        { data: { replaced: true }, tags: [] },
        { ifMatch: [1] },
        unlimited,
        TEST_CHANGE,
      ),
      entriesOnD1(db).deleteEntry(tenant, entry.id, { ifMatch: [1] }, TEST_CHANGE),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const [replaced, deleted] = results;
    if (replaced?.status === "fulfilled") {
      // Like every other 412 on an entry, it tells the caller the current version.
      expect((deleted as PromiseRejectedResult).reason).toMatchObject({
        type: "precondition-failed",
        headers: { ETag: '"2"' },
      });
      expect((await entriesOnD1(db).getEntry(tenant, entry.id)).version).toBe(2);
    } else {
      expect((replaced as PromiseRejectedResult).reason).toBeInstanceOf(AppError);
      expect(await failure(entriesOnD1(db).getEntry(tenant, entry.id))).toMatchObject({ type: "not-found" });
    }
  });

  it("lets one of three concurrent unconditional deletes succeed; the others find nothing to delete", async () => {
    const db = shard0();
    const tenant = newId("ten");
    const entry = await entriesOnD1(db).createEntry(tenant, { data: {}, tags: [] }, unlimited, TEST_CHANGE);
    const results = await Promise.allSettled(
      [1, 2, 3].map(() => entriesOnD1(db).deleteEntry(tenant, entry.id, undefined, TEST_CHANGE)),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const types = results.flatMap((r) => (r.status === "rejected" ? [(r.reason as AppError).type] : []));
    // A delete sent without If-Match has no precondition that could fail.
    expect(types).toEqual(["not-found", "not-found"]);
    expect(await failure(entriesOnD1(db).getEntry(tenant, entry.id))).toMatchObject({ type: "not-found" });
  });
});

describe("entry bookkeeping", () => {
  it("records size_bytes as the UTF-8 byte length of JSON.stringify(data)", async () => {
    const db = shard0();
    const tenant = newId("ten");
    const data = { text: "héllo wörld 👋 日本", list: [1, 2.5, null, true], nested: { q: '"quoted"\n' } };
    const entry = await entriesOnD1(db).createEntry(tenant, { data, tags: [] }, unlimited, TEST_CHANGE);
    expect(entry.sizeBytes).toBe(utf8Length(data));
    expect(entry.sizeBytes).toBeGreaterThan(JSON.stringify(data).length);

    const raw = await env.SHARD_D1_0.prepare("SELECT size_bytes, data FROM entries WHERE tenant_id = ? AND id = ?")
      .bind(tenant, entry.id)
      .first<{ size_bytes: number; data: string }>();
    expect(raw?.size_bytes).toBe(utf8Length(data));
    expect(JSON.parse(raw?.data ?? "null")).toEqual(data);

    const next = { ä: "ß".repeat(10) };
    const replaced = await entriesOnD1(db).replaceEntry(
      tenant,
      entry.id,
      { data: next, tags: [] },
      { ifMatch: [1] },
      unlimited,
      TEST_CHANGE,
    );
    expect(replaced.sizeBytes).toBe(utf8Length(next));
    expect(utf8Length({})).toBe(2);
    expect((await entriesOnD1(db).createEntry(tenant, { data: {}, tags: [] }, unlimited, TEST_CHANGE)).sizeBytes).toBe(
      2,
    );
  });

  it("stamps created_at and updated_at, and a replace keeps created_at", async () => {
    const db = drizzle(env.SHARD_D1_0, { schema });
    const tenant = newId("ten");
    const entry = await entriesOnD1(db).createEntry(tenant, { data: {}, tags: [] }, unlimited, {
      ...TEST_CHANGE,
      at: 1_000,
    });
    expect(entry).toMatchObject({ createdAt: 1_000, updatedAt: 1_000, version: 1 });
    const replaced = await entriesOnD1(db).replaceEntry(
      tenant,
      entry.id,
      { data: { a: 1 }, tags: [] },
      undefined,
      unlimited,
      { ...TEST_CHANGE, at: 5_000 },
    );
    expect(replaced).toMatchObject({ createdAt: 1_000, updatedAt: 5_000, version: 2 });
  });

  it("keeps entry_tags in step with the tags of each row", async () => {
    const db = shard0();
    const tenant = newId("ten");
    const tagRows = async () =>
      (
        await env.SHARD_D1_0.prepare("SELECT tag FROM entry_tags WHERE tenant_id = ? ORDER BY tag")
          .bind(tenant)
          .all<{ tag: string }>()
      ).results.map((r) => r.tag);

    const entry = await entriesOnD1(db).createEntry(
      tenant,
      { data: {}, tags: ["b", "a", "b"] },
      unlimited,
      TEST_CHANGE,
    );
    expect(entry.tags).toEqual(["b", "a"]);
    expect(await tagRows()).toEqual(["a", "b"]);
    await entriesOnD1(db).replaceEntry(tenant, entry.id, { data: {}, tags: ["c"] }, undefined, unlimited, TEST_CHANGE);
    expect(await tagRows()).toEqual(["c"]);
    await entriesOnD1(db).deleteEntry(tenant, entry.id, undefined, TEST_CHANGE);
    expect(await tagRows()).toEqual([]);
  });

  it("pages a tag filter by id with hasMore only while more remain", async () => {
    const db = shard0();
    const tenant = newId("ten");
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await entriesOnD1(db).createEntry(tenant, { data: { i }, tags: ["p"] }, unlimited, TEST_CHANGE)).id);
    const expected = [...ids].sort().reverse();

    const first = await entriesOnD1(db).listEntries(tenant, { tag: "p" }, { limit: 2 });
    expect(first.items.map((e) => e.id)).toEqual(expected.slice(0, 2));
    expect(first.hasMore).toBe(true);
    const second = await entriesOnD1(db).listEntries(tenant, { tag: "p" }, { limit: 2, after: expected[1] });
    expect(second.items.map((e) => e.id)).toEqual(expected.slice(2, 4));
    expect(second.hasMore).toBe(true);
    const third = await entriesOnD1(db).listEntries(tenant, { tag: "p" }, { limit: 2, after: expected[3] });
    expect(third.items.map((e) => e.id)).toEqual(expected.slice(4));
    expect(third.hasMore).toBe(false);
  });
});

describe("placement of tenant data", () => {
  const SHARED = ["d1-shared-0", "d1-shared-1", "d1-shared-2"];

  it("writes an entry created through the API to the tenant's own shard and nowhere else", async () => {
    const admin = await adminKey();
    const seen = new Set<string>();
    for (const [i, shard_id] of SHARED.entries()) {
      const tenant = await createTenant(admin, { shard_id });
      expect(tenant.shard_id).toBe(shard_id);
      const shardId = tenant.shard_id as string;
      seen.add(shardId);
      const own = await shardBinding(shardId);
      const others = await Promise.all(
        [...SHARED, "d1-dedicated-0"].filter((id) => id !== shardId).map((id) => shardBinding(id)),
      );

      const { secret } = await tenantKey(admin, tenant.id, ["entries:read", "entries:write"]);
      const data = { placed: shardId, i };
      const res = await call(`/v1/tenants/${tenant.id}/entries`, {
        method: "POST",
        key: secret,
        body: { data, tags: ["placed"] },
      });
      expect(res.status, res.text).toBe(201);
      const entryId = res.json.id as string;

      const row = await own
        .prepare("SELECT * FROM entries WHERE tenant_id = ? AND id = ?")
        .bind(tenant.id, entryId)
        .first<Record<string, unknown>>();
      expect(row).toMatchObject({ tenant_id: tenant.id, id: entryId, version: 1, size_bytes: utf8Length(data) });
      expect(JSON.parse(row?.data as string)).toEqual(data);
      expect(JSON.parse(row?.tags as string)).toEqual(["placed"]);
      const ownTags = await own
        .prepare("SELECT tag FROM entry_tags WHERE tenant_id = ? AND entry_id = ?")
        .bind(tenant.id, entryId)
        .all();
      expect(ownTags.results).toEqual([{ tag: "placed" }]);
      const registered = await own
        .prepare("SELECT tenant_id FROM shard_tenants WHERE tenant_id = ?")
        .bind(tenant.id)
        .first();
      expect(registered).toEqual({ tenant_id: tenant.id });

      for (const sql of [
        "SELECT count(*) AS n FROM entries WHERE tenant_id = ?1 OR id = ?2",
        "SELECT count(*) AS n FROM entry_tags WHERE tenant_id = ?1 OR entry_id = ?2",
        "SELECT count(*) AS n FROM shard_tenants WHERE tenant_id = ?1 OR ?2 IS NULL",
      ]) {
        for (const other of others) expect(await other.prepare(sql).bind(tenant.id, entryId).first("n"), sql).toBe(0);
      }
    }
    expect([...seen].sort()).toEqual(SHARED);
  });
});
