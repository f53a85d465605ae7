import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { entryData } from "../../src/entries/dataset";
import type { Entry } from "../../src/entries/table";
import { newId } from "../../src/http/ids";
import { d1Store } from "../../src/shards/d1-store";
import { openPgShard } from "../../src/shards/pg-store";
import type { ShardStore, StorageLimits } from "../../src/shards/store";
import { TEST_CHANGE } from "../helpers";

// The tenant-move primitives of ShardStore, on both engines. The PostgreSQL database is shared by
// every test file and run, so each test works in fresh tenants.
const unlimited: StorageLimits = { maxEntries: null, maxStorageBytes: null };
const bytes = (data: unknown) => new TextEncoder().encode(JSON.stringify(data)).byteLength;

const opened: ShardStore[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
});
async function track(store: Promise<ShardStore> | ShardStore) {
  const s = await store;
  opened.push(s);
  return s;
}

type Engine = { name: string; open: () => Promise<ShardStore> };
const d1 =
  (database: D1Database): Engine["open"] =>
  () =>
    track(d1Store(database));
const postgres: Engine["open"] = () => track(openPgShard(env.SHARD_PG_0.connectionString));
const engines: Engine[] = [
  { name: "D1", open: d1(env.SHARD_D1_0) },
  { name: "PostgreSQL", open: postgres },
];

/** A row as a source shard would hand it over: any version, timestamps and size, kept as given. */
function row(tenantId: string, data: Record<string, unknown>, tags: string[], version: number, at: number): Entry {
  return {
    tenantId,
    id: newId("ent"),
    data,
    tags,
    version,
    sizeBytes: bytes(data),
    createdAt: at,
    updatedAt: at + version,
  };
}

const sumBytes = (rows: Entry[]) => rows.reduce((sum, e) => sum + e.sizeBytes, 0);

/** Every entry of the tenant, through pages of `limit`. */
async function exportAll(store: ShardStore, tenantId: string, limit: number) {
  const all: Entry[] = [];
  for (let after: string | null = null; ; ) {
    const page: Entry[] = await store.rows(entryData, tenantId, after, limit);
    all.push(...page);
    if (page.length < limit) return all;
    after = page.at(-1)?.id ?? null;
  }
}

const tagged = async (store: ShardStore, tenantId: string, tag: string) =>
  (await store.listEntries(tenantId, { tag }, { limit: 100 })).items.map((e) => e.id);

describe.each(engines)("$name ShardStore tenant moves", ({ name, open }) => {
  let store: ShardStore;
  let tenant: string;
  let other: string;
  beforeEach(async () => {
    store = await open();
    tenant = newId("ten");
    other = newId("ten");
    await store.registerTenant(tenant, 1_000);
    await store.registerTenant(other, 1_000);
  });

  it("runs on the engine it names", () => {
    expect(store.engine).toBe(name === "D1" ? "d1" : "postgres");
  });

  describe("rows / versions of entries", () => {
    it("pages the tenant's whole rows in ascending id order, after a cursor, never another tenant's", async () => {
      const made: Entry[] = [];
      for (let i = 0; i < 7; i++) {
        const data = { i, text: "é".repeat(i), nested: { list: [i, "x", null], f: 1.5 } };
        made.push(
          await store.createEntry(tenant, { data, tags: i % 2 ? ["odd", "all"] : ["all"] }, unlimited, {
            ...TEST_CHANGE,
            at: 5_000 + i,
          }),
        );
        // Interleaved ids of another tenant must not show up in the walk.
        await store.createEntry(other, { data: { other: i }, tags: ["all"] }, unlimited, TEST_CHANGE);
      }
      await store.replaceEntry(tenant, made[3]?.id as string, { data: { v: 2 }, tags: [] }, undefined, unlimited, {
        ...TEST_CHANGE,
        at: 9_000,
      });
      made[3] = {
        ...(made[3] as Entry),
        data: { v: 2 },
        tags: [],
        version: 2,
        sizeBytes: bytes({ v: 2 }),
        updatedAt: 9_000,
      };

      expect(made[0]).toEqual({
        tenantId: tenant,
        id: expect.stringMatching(/^ent_/),
        data: { i: 0, text: "", nested: { list: [0, "x", null], f: 1.5 } },
        tags: ["all"],
        version: 1,
        sizeBytes: bytes({ i: 0, text: "", nested: { list: [0, "x", null], f: 1.5 } }),
        createdAt: 5_000,
        updatedAt: 5_000,
      });
      expect(await store.rows(entryData, tenant, null, 3)).toEqual(made.slice(0, 3));
      expect(await store.rows(entryData, tenant, made[2]?.id as string, 3)).toEqual(made.slice(3, 6));
      expect(await store.rows(entryData, tenant, made[5]?.id as string, 3)).toEqual(made.slice(6));
      expect(await store.rows(entryData, tenant, made[6]?.id as string, 3)).toEqual([]);
      expect(await store.rows(entryData, tenant, null, 100)).toEqual(made);
      // A cursor between two ids (not an id of the tenant) still walks on from there.
      expect(await store.rows(entryData, tenant, `${made[3]?.id}0`, 2)).toEqual(made.slice(4, 6));
      expect(await store.rows(entryData, newId("ten"), null, 10)).toEqual([]);
    });

    it("walks ids and versions exactly as rows walks the entries", async () => {
      const made: Entry[] = [];
      for (let i = 0; i < 5; i++)
        made.push(await store.createEntry(tenant, { data: { i }, tags: [] }, unlimited, TEST_CHANGE));
      await store.createEntry(other, { data: {}, tags: [] }, unlimited, TEST_CHANGE);
      for (const _ of [1, 2]) {
        await store.replaceEntry(
          tenant,
          made[1]?.id as string,
          { data: { r: 1 }, tags: [] },
          undefined,
          unlimited,
          TEST_CHANGE,
        );
      }
      await store.replaceEntry(
        tenant,
        made[4]?.id as string,
        { data: { r: 1 }, tags: [] },
        undefined,
        unlimited,
        TEST_CHANGE,
      );
      const expected = made.map((e, i) => ({ id: e.id, version: [1, 3, 1, 1, 2][i] }));

      expect(await store.versions(entryData, tenant, null, 2)).toEqual(expected.slice(0, 2));
      expect(await store.versions(entryData, tenant, made[1]?.id as string, 2)).toEqual(expected.slice(2, 4));
      expect(await store.versions(entryData, tenant, made[3]?.id as string, 2)).toEqual(expected.slice(4));
      expect(await store.versions(entryData, tenant, null, 100)).toEqual(
        (await store.rows(entryData, tenant, null, 100)).map(({ id, version }) => ({ id, version })),
      );
    });
  });

  describe("readRows of entries", () => {
    it("returns only the listed entries that exist for that tenant", async () => {
      const a = await store.createEntry(tenant, { data: { a: 1 }, tags: ["t"] }, unlimited, TEST_CHANGE);
      const b = await store.createEntry(tenant, { data: { b: 2 }, tags: [] }, unlimited, TEST_CHANGE);
      await store.createEntry(tenant, { data: { unasked: true }, tags: [] }, unlimited, TEST_CHANGE);
      const theirs = await store.createEntry(other, { data: { secret: 1 }, tags: [] }, unlimited, TEST_CHANGE);

      const read = await store.readRows(entryData, tenant, [b.id, newId("ent"), theirs.id, a.id]);
      expect(read.sort((x, y) => (x.id < y.id ? -1 : 1))).toEqual([a, b]);
      expect(await store.readRows(entryData, other, [a.id, b.id])).toEqual([]);
      expect(await store.readRows(entryData, other, [theirs.id])).toEqual([theirs]);
      expect(await store.readRows(entryData, tenant, [])).toEqual([]);
    });

    it("reads and removes more ids than one statement may bind (D1: 100 parameters)", async () => {
      const rows = Array.from({ length: 150 }, (_, i) => row(tenant, { i }, [`g${i % 3}`], 1 + (i % 4), 10_000 + i));
      await store.importRows(entryData, tenant, rows);
      const absent = Array.from({ length: 10 }, () => newId("ent"));

      const read = await store.readRows(entryData, tenant, [...absent, ...rows.map((e) => e.id).reverse()]);
      expect(read.sort((x, y) => (x.id < y.id ? -1 : 1))).toEqual(rows);

      const gone = rows.slice(0, 130);
      const kept = rows.slice(130);
      await store.removeRows(entryData, tenant, [...gone.map((e) => e.id), ...absent]);
      expect(await exportAll(store, tenant, 100)).toEqual(kept);
      expect(
        await store.readRows(
          entryData,
          tenant,
          rows.map((e) => e.id),
        ),
      ).toHaveLength(20);
      expect(await store.storageOf(tenant)).toEqual({
        entryCount: 20,
        storedBytes: sumBytes(kept),
        maxEntries: null,
        maxStoredBytes: null,
      });
      expect(await tagged(store, tenant, "g0")).toEqual(
        kept
          .filter((e) => e.tags[0] === "g0")
          .map((e) => e.id)
          .reverse(),
      );
    });
  });

  describe("importRows of entries", () => {
    it("writes rows exactly as given, keeping the tag index and usage counters exact", async () => {
      const rows = [
        row(tenant, { title: "first", n: [1, 2] }, ["red", "blue"], 4, 1_600_000_000_000),
        row(tenant, { title: "second" }, ["blue"], 1, 1_600_000_000_500),
        row(tenant, {}, [], 9, 1_600_000_001_000),
      ];
      await store.importRows(entryData, tenant, rows);

      expect(await store.rows(entryData, tenant, null, 10)).toEqual(rows);
      expect(await store.getEntry(tenant, rows[0]?.id as string)).toEqual(rows[0]);
      expect(await tagged(store, tenant, "blue")).toEqual([rows[1]?.id, rows[0]?.id]);
      expect(await tagged(store, tenant, "red")).toEqual([rows[0]?.id]);
      expect(await store.storageOf(tenant)).toEqual({
        entryCount: 3,
        storedBytes: sumBytes(rows),
        maxEntries: null,
        maxStoredBytes: null,
      });
      expect(await store.storageOf(other)).toMatchObject({ entryCount: 0, storedBytes: 0 });
      // Imported rows are ordinary entries: the API writes on them as on any other.
      const replaced = await store.replaceEntry(
        tenant,
        rows[0]?.id as string,
        { data: {}, tags: [] },
        { ifMatch: [4] },
        unlimited,
        TEST_CHANGE,
      );
      expect(replaced.version).toBe(5);
    });

    it("overwrites an existing row whole, another version, tags and size included", async () => {
      const current = await store.createEntry(tenant, { data: { v: "old" }, tags: ["old", "keep"] }, unlimited, {
        ...TEST_CHANGE,
        at: 2_000,
      });
      const kept = await store.createEntry(tenant, { data: { untouched: true }, tags: ["keep"] }, unlimited, {
        ...TEST_CHANGE,
        at: 2_001,
      });
      const incoming: Entry = {
        ...current,
        data: { v: "new", grown: "x".repeat(50) },
        tags: ["new", "keep"],
        version: 7,
        sizeBytes: bytes({ v: "new", grown: "x".repeat(50) }),
        createdAt: 1_500,
        updatedAt: 3_000,
      };
      await store.importRows(entryData, tenant, [incoming]);

      expect(await store.rows(entryData, tenant, null, 10)).toEqual([incoming, kept]);
      expect(await tagged(store, tenant, "old")).toEqual([]);
      expect(await tagged(store, tenant, "new")).toEqual([current.id]);
      expect(await tagged(store, tenant, "keep")).toEqual([kept.id, current.id]);
      expect(await store.storageOf(tenant)).toMatchObject({
        entryCount: 2,
        storedBytes: incoming.sizeBytes + kept.sizeBytes,
      });
      // An older copy of the row overwrites too: the rows are written as given, not merged.
      await store.importRows(entryData, tenant, [current]);
      expect(await store.readRows(entryData, tenant, [current.id])).toEqual([current]);
      expect(await tagged(store, tenant, "old")).toEqual([current.id]);
      expect(await store.storageOf(tenant)).toMatchObject({
        entryCount: 2,
        storedBytes: current.sizeBytes + kept.sizeBytes,
      });
    });

    it("is not refused by a quota the tenant's last write set, and clears it", async () => {
      const limits = { maxEntries: 1, maxStorageBytes: 20 };
      const first = await store.createEntry(tenant, { data: { a: 1 }, tags: [] }, limits, TEST_CHANGE);
      expect(await store.storageOf(tenant)).toMatchObject({ maxEntries: 1, maxStoredBytes: 20 });
      await expect(store.createEntry(tenant, { data: { b: 1 }, tags: [] }, limits, TEST_CHANGE)).rejects.toMatchObject({
        type: "storage-quota-exceeded",
      });

      const rows = [0, 1, 2].map((i) => row(tenant, { text: "y".repeat(30 + i) }, ["q"], 2, 7_000));
      await store.importRows(entryData, tenant, rows);

      expect(await store.storageOf(tenant)).toEqual({
        entryCount: 4,
        storedBytes: first.sizeBytes + sumBytes(rows),
        maxEntries: null,
        maxStoredBytes: null,
      });
      expect(await store.rows(entryData, tenant, null, 10)).toEqual([first, ...rows]);
    });

    it("writes under the tenant it is given, and nothing for an empty list", async () => {
      const foreign = row(other, { moved: true }, ["m"], 3, 4_000);
      await store.importRows(entryData, tenant, [foreign]);
      expect(await store.rows(entryData, tenant, null, 10)).toEqual([{ ...foreign, tenantId: tenant }]);
      expect(await store.rows(entryData, other, null, 10)).toEqual([]);
      await store.importRows(entryData, tenant, []);
      expect(await store.storageOf(tenant)).toMatchObject({ entryCount: 1, storedBytes: foreign.sizeBytes });
    });
  });

  describe("removeRows of entries", () => {
    it("deletes only the given ids of the tenant, ignores absent ones, and the counters follow", async () => {
      const made: Entry[] = [];
      for (let i = 0; i < 4; i++) {
        made.push(
          await store.createEntry(tenant, { data: { i, pad: "p".repeat(i) }, tags: ["t"] }, unlimited, TEST_CHANGE),
        );
      }
      const theirs = await store.createEntry(other, { data: { o: 1 }, tags: ["t"] }, unlimited, TEST_CHANGE);
      const [a, b, c, d] = made as [Entry, Entry, Entry, Entry];

      await store.removeRows(entryData, tenant, [b.id, newId("ent"), d.id, theirs.id]);
      expect(await store.rows(entryData, tenant, null, 10)).toEqual([a, c]);
      expect(await tagged(store, tenant, "t")).toEqual([c.id, a.id]);
      expect(await store.storageOf(tenant)).toMatchObject({ entryCount: 2, storedBytes: a.sizeBytes + c.sizeBytes });
      expect(await store.rows(entryData, other, null, 10)).toEqual([theirs]);
      expect(await store.storageOf(other)).toMatchObject({ entryCount: 1, storedBytes: theirs.sizeBytes });

      await store.removeRows(entryData, tenant, [b.id, d.id]);
      await store.removeRows(entryData, tenant, []);
      expect(await store.storageOf(tenant)).toMatchObject({ entryCount: 2 });
    });
  });

  describe("purgeTenant", () => {
    it("deletes in chunks, then unregisters the tenant, leaving other tenants' rows alone", async () => {
      const rows = Array.from({ length: 5 }, (_, i) => row(tenant, { i }, ["p"], 1, 1_000 + i));
      await store.importRows(entryData, tenant, rows);
      const theirs = await store.createEntry(other, { data: { o: 1 }, tags: ["p"] }, unlimited, TEST_CHANGE);
      const theirStorage = await store.storageOf(other);

      expect(await store.purgeTenant(tenant, 2)).toBe(2);
      expect(await store.storageOf(tenant)).toMatchObject({ entryCount: 3, storedBytes: sumBytes(rows.slice(2)) });
      expect(await store.purgeTenant(tenant, 2)).toBe(2);
      expect(await store.rows(entryData, tenant, null, 10)).toHaveLength(1);
      expect(await store.purgeTenant(tenant, 2)).toBe(1);
      expect(await store.purgeTenant(tenant, 2)).toBe(0);

      expect(await store.storageOf(tenant)).toBeNull();
      expect(await store.rows(entryData, tenant, null, 10)).toEqual([]);
      expect(await tagged(store, tenant, "p")).toEqual([]);
      expect(await store.rows(entryData, other, null, 10)).toEqual([theirs]);
      expect(await tagged(store, other, "p")).toEqual([theirs.id]);
      expect(await store.storageOf(other)).toEqual(theirStorage);
      expect(theirStorage).toMatchObject({ entryCount: 1, storedBytes: theirs.sizeBytes });
      // Once purged, purging again finds nothing.
      expect(await store.purgeTenant(tenant, 2)).toBe(0);
    });

    it("returns 0 and unregisters a tenant that has no entries", async () => {
      expect(await store.purgeTenant(tenant, 10)).toBe(0);
      expect(await store.storageOf(tenant)).toBeNull();
      expect(await store.storageOf(other)).not.toBeNull();
    });
  });
});

describe.each([
  { from: "D1", to: "PostgreSQL", openFrom: d1(env.SHARD_D1_0), openTo: postgres },
  { from: "PostgreSQL", to: "D1", openFrom: postgres, openTo: d1(env.SHARD_D1_1) },
  { from: "D1", to: "another D1", openFrom: d1(env.SHARD_D1_0), openTo: d1(env.SHARD_D1_1) },
])("copying a tenant from $from to $to", ({ openFrom, openTo }) => {
  it("export then import reproduces every row and column, tag index and usage included", async () => {
    const [source, target] = [await openFrom(), await openTo()];
    const tenant = newId("ten");
    await source.registerTenant(tenant, 1_000);
    await target.registerTenant(tenant, 2_000);

    const made: Entry[] = [];
    for (let i = 0; i < 9; i++) {
      const data = { i, label: `entry ${i} ✓`, deep: { ok: i % 2 === 0, list: [i, { x: "y" }] } };
      made.push(
        await source.createEntry(tenant, { data, tags: i % 3 === 0 ? ["three", "all"] : ["all"] }, unlimited, {
          ...TEST_CHANGE,
          at: 50_000 + i,
        }),
      );
    }
    await source.replaceEntry(
      tenant,
      made[2]?.id as string,
      { data: { r: 1 }, tags: ["three"] },
      undefined,
      unlimited,
      { ...TEST_CHANGE, at: 60_000 },
    );
    await source.replaceEntry(
      tenant,
      made[2]?.id as string,
      { data: { r: 2 }, tags: ["three"] },
      undefined,
      unlimited,
      { ...TEST_CHANGE, at: 60_001 },
    );
    // The target already holds a stale copy of one row and the quota of an earlier write.
    await target.importRows(entryData, tenant, [made[5] as Entry]);
    const stale = await target.createEntry(
      tenant,
      { data: {}, tags: ["all"] },
      { maxEntries: 2, maxStorageBytes: 200 },
      TEST_CHANGE,
    );
    await target.removeRows(entryData, tenant, [stale.id]);
    expect(await target.storageOf(tenant)).toMatchObject({ entryCount: 1, maxEntries: 2, maxStoredBytes: 200 });

    const rows = await exportAll(source, tenant, 4);
    expect(rows).toHaveLength(9);
    expect(rows[2]).toMatchObject({
      data: { r: 2 },
      tags: ["three"],
      version: 3,
      createdAt: 50_002,
      updatedAt: 60_001,
    });
    for (let at = 0; at < rows.length; at += 4) await target.importRows(entryData, tenant, rows.slice(at, at + 4));

    expect(await exportAll(target, tenant, 3)).toEqual(rows);
    expect(await target.versions(entryData, tenant, null, 100)).toEqual(
      await source.versions(entryData, tenant, null, 100),
    );
    for (const tag of ["three", "all"])
      expect(await tagged(target, tenant, tag)).toEqual(await tagged(source, tenant, tag));
    expect(await target.storageOf(tenant)).toEqual({
      entryCount: 9,
      storedBytes: sumBytes(rows),
      maxEntries: null,
      maxStoredBytes: null,
    });
    expect(await target.storageOf(tenant)).toEqual(await source.storageOf(tenant));
  });
});
