import { env } from "cloudflare:workers";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PG_SHARD_MIGRATIONS } from "../../migrations/shard-pg";
import journal from "../../migrations/shard-pg/meta/_journal.json";
import { newId } from "../../src/http/ids";
import { applyPgMigrations, migratePgShard } from "../../src/shards/pg-migrate";
import { connectPg, openPgShard } from "../../src/shards/pg-store";
import type { ShardStore, StorageLimits } from "../../src/shards/store";
import { TEST_CHANGE } from "../helpers";

// Runs against the real PostgreSQL behind the local Hyperdrive binding. That database is shared by
// every test file and run, so each test works in its own fresh tenant.
const url = env.SHARD_PG_0.connectionString;
const unlimited: StorageLimits = { maxEntries: null, maxStorageBytes: null };
const bytes = (data: unknown) => new TextEncoder().encode(JSON.stringify(data)).byteLength;

const opened: ShardStore[] = [];
async function open() {
  const store = await openPgShard(url);
  opened.push(store);
  return store;
}
afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
});

/** `n` stores, each on its own connection, to race writes as separate requests would. */
const stores = (n: number) => Promise.all(Array.from({ length: n }, open));

beforeAll(async () => {
  // Concurrent runners, as two isolates provisioning at once: between them each migration applies once.
  const runs = await Promise.all([migratePgShard(url), migratePgShard(url), migratePgShard(url)]);
  const applied = runs.flat();
  expect(new Set(applied).size).toBe(applied.length);
});

describe("migratePgShard", () => {
  it("applies nothing more when run again, also concurrently", async () => {
    expect(await migratePgShard(url)).toEqual([]);
    expect(await Promise.all([migratePgShard(url), migratePgShard(url)])).toEqual([[], []]);
  });

  it("runs the migrations the drizzle journal lists, in its order", () => {
    expect(PG_SHARD_MIGRATIONS.map((m) => m.name)).toEqual(journal.entries.map((e) => e.tag));
  });

  describe("on an empty database", () => {
    const schema = `scratch_${crypto.randomUUID().replaceAll("-", "")}`;
    const clients: Awaited<ReturnType<typeof connectPg>>[] = [];
    // A fresh schema first on the search path stands in for a new shard.
    async function connectToScratch() {
      const client = await connectPg(url);
      clients.push(client);
      await client.query(`SET search_path TO ${schema}`);
      return client;
    }
    beforeAll(async () => {
      const client = await connectPg(url);
      await client.query(`CREATE SCHEMA ${schema}`);
      await client.end();
    });
    afterAll(async () => {
      const client = await connectPg(url);
      await client.query(`DROP SCHEMA ${schema} CASCADE`);
      await client.end();
      await Promise.all(clients.map((c) => c.end()));
    });

    it("applies every migration exactly once among concurrent runners, and records each", async () => {
      const runners = await Promise.all([connectToScratch(), connectToScratch(), connectToScratch()]);
      const runs = await Promise.all(runners.map((client) => applyPgMigrations(client)));
      expect(runs.flat().sort()).toEqual(PG_SHARD_MIGRATIONS.map((m) => m.name));
      const [client] = runners;
      const ledger = await client?.query("SELECT name FROM shard_migrations ORDER BY name");
      expect(ledger?.rows.map((r) => r.name)).toEqual(PG_SHARD_MIGRATIONS.map((m) => m.name));
      const triggers = await client?.query(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = 'entries'::regclass AND NOT tgisinternal ORDER BY tgname",
      );
      expect(triggers?.rows.map((r) => r.tgname)).toEqual([
        "entries_tags_after_delete",
        "entries_tags_after_insert",
        "entries_tags_after_update",
        "entries_usage_after_delete",
        "entries_usage_after_insert",
        "entries_usage_after_update",
      ]);
      for (const runner of runners) expect(await applyPgMigrations(runner)).toEqual([]);
    });

    it("rolls a failing migration back whole, ledger row included, and stops there", async () => {
      const client = await connectToScratch();
      const failing = [
        { name: "9000_half", sql: "CREATE TABLE half (n int);\n--> statement-breakpoint\nSELECT 1/0;" },
        { name: "9001_after", sql: "CREATE TABLE after_half (n int);" },
      ];
      await expect(applyPgMigrations(client, failing)).rejects.toThrow(/division by zero/);
      const left = await client.query(
        "SELECT to_regclass('half') AS half, to_regclass('after_half') AS after, (SELECT count(*) FROM shard_migrations WHERE name LIKE '900%') AS recorded",
      );
      expect(left.rows[0]).toEqual({ half: null, after: null, recorded: "0" });
    });
  });
});

describe("PostgreSQL ShardStore", () => {
  let store: ShardStore;
  let tenant: string;
  beforeEach(async () => {
    store = await open();
    tenant = newId("ten");
    await store.registerTenant(tenant, 1_000);
  });

  describe("entries", () => {
    it("creates an entry with the D1 engine's shape: version 1, unique tags, byte size, ms timestamps", async () => {
      const data = { title: "héllo", nested: { n: 1.5, list: [1, "two", null] } };
      const entry = await store.createEntry(tenant, { data, tags: ["a", "b", "a"] }, unlimited, {
        ...TEST_CHANGE,
        at: 1_700_000_000_123,
      });
      expect(entry).toEqual({
        tenantId: tenant,
        id: expect.stringMatching(/^ent_[0-9A-Z]{26}$/),
        data,
        tags: ["a", "b"],
        version: 1,
        sizeBytes: bytes(data),
        createdAt: 1_700_000_000_123,
        updatedAt: 1_700_000_000_123,
      });
      expect(await store.getEntry(tenant, entry.id)).toEqual(entry);
      expect(store.engine).toBe("postgres");
    });

    it("answers 404 for an id that does not exist", async () => {
      await expect(store.getEntry(tenant, newId("ent"))).rejects.toMatchObject({ type: "not-found", status: 404 });
    });

    it("replaces data and tags, bumping the version and keeping createdAt", async () => {
      const created = await store.createEntry(tenant, { data: { v: 1 }, tags: ["old"] }, unlimited, {
        ...TEST_CHANGE,
        at: 1_000,
      });
      const replaced = await store.replaceEntry(
        tenant,
        created.id,
        { data: { v: 2, more: true }, tags: ["new", "new"] },
        undefined,
        unlimited,
        { ...TEST_CHANGE, at: 2_000 },
      );
      expect(replaced).toEqual({
        ...created,
        data: { v: 2, more: true },
        tags: ["new"],
        version: 2,
        sizeBytes: bytes({ v: 2, more: true }),
        updatedAt: 2_000,
      });
      expect(await store.getEntry(tenant, created.id)).toEqual(replaced);
    });

    it("honours If-Match: a listed version or * writes, a stale one is 412 with the current ETag", async () => {
      const { id } = await store.createEntry(tenant, { data: { v: 1 }, tags: [] }, unlimited, TEST_CHANGE);
      expect(
        (
          await store.replaceEntry(
            tenant,
            id,
            { data: { v: 2 }, tags: [] },
            { ifMatch: [7, 1] },
            unlimited,
            TEST_CHANGE,
          )
        ).version,
      ).toBe(2);
      await expect(
        store.replaceEntry(tenant, id, { data: { v: 3 }, tags: [] }, { ifMatch: [1] }, unlimited, TEST_CHANGE),
      ).rejects.toMatchObject({
        type: "precondition-failed",
        status: 412,
        headers: { ETag: '"2"' },
      });
      expect(
        (await store.replaceEntry(tenant, id, { data: { v: 3 }, tags: [] }, { ifMatch: "*" }, unlimited, TEST_CHANGE))
          .version,
      ).toBe(3);
      await expect(store.deleteEntry(tenant, id, { ifMatch: [2] }, TEST_CHANGE)).rejects.toMatchObject({
        status: 412,
        headers: { ETag: '"3"' },
      });
      expect((await store.getEntry(tenant, id)).version).toBe(3);
    });

    it("lets exactly one of concurrent replaces conditional on the same version win", async () => {
      const { id } = await store.createEntry(tenant, { data: { v: 0 }, tags: [] }, unlimited, TEST_CHANGE);
      const writers = await stores(6);
      const results = await Promise.allSettled(
        writers.map((w, i) =>
          w.replaceEntry(tenant, id, { data: { writer: i }, tags: [] }, { ifMatch: [1] }, unlimited, TEST_CHANGE),
        ),
      );
      const won = results.filter((r) => r.status === "fulfilled");
      expect(won).toHaveLength(1);
      for (const r of results.filter((r) => r.status === "rejected")) {
        expect(r.reason).toMatchObject({ type: "precondition-failed", status: 412 });
      }
      expect(await store.getEntry(tenant, id)).toMatchObject({ version: 2, data: won[0]?.value.data });
    });

    it("applies every concurrent unconditional replace, one version each", async () => {
      const { id } = await store.createEntry(tenant, { data: { v: 0 }, tags: [] }, unlimited, TEST_CHANGE);
      const writers = await stores(5);
      const written = await Promise.all(
        writers.map((w, i) =>
          w.replaceEntry(tenant, id, { data: { writer: i }, tags: [] }, undefined, unlimited, TEST_CHANGE),
        ),
      );
      expect(written.map((e) => e.version).sort()).toEqual([2, 3, 4, 5, 6]);
      expect((await store.getEntry(tenant, id)).version).toBe(6);
    });

    it("serializes concurrent calls on one store, which share one connection", async () => {
      const made = await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          store.createEntry(tenant, { data: { i }, tags: ["x"] }, unlimited, TEST_CHANGE),
        ),
      );
      const read = await Promise.all([
        ...made.map((e) => store.getEntry(tenant, e.id)),
        store.listEntries(tenant, {}, { limit: 10 }),
      ]);
      expect(read.slice(0, 5)).toEqual(made);
      expect(await store.storageOf(tenant)).toMatchObject({ entryCount: 5 });
    });

    it("races deletes against replaces of the same entry without deadlocking", async () => {
      const { id } = await store.createEntry(tenant, { data: { v: 0 }, tags: [] }, unlimited, TEST_CHANGE);
      const [deleter, ...writers] = await stores(7);
      const limits = { maxEntries: 10, maxStorageBytes: 10_000 };
      const results = await Promise.allSettled([
        ...writers.map((w, i) =>
          w.replaceEntry(tenant, id, { data: { grown: "x".repeat(i) }, tags: [] }, undefined, limits, TEST_CHANGE),
        ),
        deleter?.deleteEntry(tenant, id, undefined, TEST_CHANGE),
      ]);
      expect(results.at(-1)?.status).toBe("fulfilled");
      for (const r of results.filter((r) => r.status === "rejected")) {
        expect(r.reason).toMatchObject({ type: "not-found" });
      }
      expect(await store.storageOf(tenant)).toMatchObject({ entryCount: 0, storedBytes: 0 });
    });

    it("deletes unconditionally or at the matching version; a gone entry is 404", async () => {
      const a = await store.createEntry(tenant, { data: { a: 1 }, tags: ["t"] }, unlimited, TEST_CHANGE);
      const b = await store.createEntry(tenant, { data: { b: 1 }, tags: ["t"] }, unlimited, TEST_CHANGE);
      await store.deleteEntry(tenant, a.id, undefined, TEST_CHANGE);
      await expect(store.getEntry(tenant, a.id)).rejects.toMatchObject({ status: 404 });
      await expect(store.deleteEntry(tenant, a.id, undefined, TEST_CHANGE)).rejects.toMatchObject({
        type: "not-found",
      });
      await store.deleteEntry(tenant, b.id, { ifMatch: [1] }, TEST_CHANGE);
      await expect(store.deleteEntry(tenant, b.id, { ifMatch: "*" }, TEST_CHANGE)).rejects.toMatchObject({
        status: 404,
      });
      expect(await store.listEntries(tenant, { tag: "t" }, { limit: 10 })).toEqual({ items: [], hasMore: false });
    });
  });

  describe("listing", () => {
    it("pages newest first by id, across pages, with and without a tag filter", async () => {
      const made = [];
      for (let i = 0; i < 7; i++) {
        made.push(
          await store.createEntry(
            tenant,
            { data: { i }, tags: i % 2 === 0 ? ["even", "all"] : ["all"] },
            unlimited,
            TEST_CHANGE,
          ),
        );
      }
      const newest = made.map((e) => e.id).reverse();
      const walk = async (filter: { tag?: string }, limit: number) => {
        const pages: string[][] = [];
        let after: string | undefined;
        for (;;) {
          const page = await store.listEntries(tenant, filter, { limit, after });
          pages.push(page.items.map((e) => e.id));
          if (!page.hasMore) return pages;
          after = page.items.at(-1)?.id;
        }
      };
      expect(await walk({}, 3)).toEqual([newest.slice(0, 3), newest.slice(3, 6), newest.slice(6)]);
      const even = made
        .filter((_, i) => i % 2 === 0)
        .map((e) => e.id)
        .reverse();
      expect(await walk({ tag: "even" }, 2)).toEqual([even.slice(0, 2), even.slice(2)]);
      expect((await walk({ tag: "all" }, 10)).flat()).toEqual(newest);
      expect((await store.listEntries(tenant, { tag: "even" }, { limit: 1 })).items[0]).toEqual(made[6]);
      expect(await store.listEntries(tenant, { tag: "none" }, { limit: 5 })).toEqual({ items: [], hasMore: false });
    });

    it("keeps the tag index in step with replaces and deletes", async () => {
      const a = await store.createEntry(tenant, { data: {}, tags: ["red"] }, unlimited, TEST_CHANGE);
      const b = await store.createEntry(tenant, { data: {}, tags: ["red", "blue"] }, unlimited, TEST_CHANGE);
      const ids = async (tag: string) =>
        (await store.listEntries(tenant, { tag }, { limit: 10 })).items.map((e) => e.id);
      await store.replaceEntry(tenant, a.id, { data: {}, tags: ["blue"] }, undefined, unlimited, TEST_CHANGE);
      expect(await ids("red")).toEqual([b.id]);
      expect(await ids("blue")).toEqual([b.id, a.id]);
      await store.deleteEntry(tenant, b.id, undefined, TEST_CHANGE);
      expect(await ids("red")).toEqual([]);
      expect(await ids("blue")).toEqual([a.id]);
    });
  });

  describe("storage quotas", () => {
    it("refuses the entry past max_entries with 403 storage-quota-exceeded, and a delete makes room", async () => {
      const limits = { maxEntries: 3, maxStorageBytes: null };
      const made = [];
      for (let i = 0; i < 3; i++)
        made.push(await store.createEntry(tenant, { data: { i }, tags: [] }, limits, TEST_CHANGE));
      const refused = store.createEntry(tenant, { data: { i: 3 }, tags: [] }, limits, TEST_CHANGE);
      await expect(refused).rejects.toMatchObject({
        type: "storage-quota-exceeded",
        status: 403,
        extensions: { quota: "entries", limit: 3 },
      });
      await store.deleteEntry(tenant, made[0]?.id as string, undefined, TEST_CHANGE);
      await store.createEntry(tenant, { data: { i: 4 }, tags: [] }, limits, TEST_CHANGE);
      expect(await store.storageOf(tenant)).toMatchObject({ entryCount: 3, maxEntries: 3, maxStoredBytes: null });
    });

    it("counts stored bytes on create and replace, refusing growth past max_stored_bytes but not shrinking", async () => {
      const limits = { maxEntries: null, maxStorageBytes: 100 };
      const big = await store.createEntry(tenant, { data: { text: "x".repeat(70) }, tags: [] }, limits, TEST_CHANGE); // 81 bytes
      await expect(
        store.createEntry(tenant, { data: { text: "y".repeat(20) }, tags: [] }, limits, TEST_CHANGE), // 31 more: 112 > 100
      ).rejects.toMatchObject({ type: "storage-quota-exceeded", extensions: { quota: "stored_bytes", limit: 100 } });
      await expect(
        store.replaceEntry(
          tenant,
          big.id,
          { data: { text: "x".repeat(95) }, tags: [] },
          undefined,
          limits,
          TEST_CHANGE,
        ),
      ).rejects.toMatchObject({ extensions: { quota: "stored_bytes" } });
      expect((await store.getEntry(tenant, big.id)).version).toBe(1);
      await store.replaceEntry(tenant, big.id, { data: { t: 1 }, tags: [] }, undefined, limits, TEST_CHANGE);
      expect(await store.storageOf(tenant)).toEqual({
        entryCount: 1,
        storedBytes: bytes({ t: 1 }),
        maxEntries: null,
        maxStoredBytes: 100,
      });
    });

    it("lets a tenant over a lowered quota delete and shrink, never grow", async () => {
      const a = await store.createEntry(tenant, { data: { text: "a".repeat(40) }, tags: [] }, unlimited, TEST_CHANGE);
      const b = await store.createEntry(tenant, { data: { text: "b".repeat(40) }, tags: [] }, unlimited, TEST_CHANGE);
      const lowered = { maxEntries: 1, maxStorageBytes: 50 }; // already at 2 entries, 102 bytes
      await expect(store.createEntry(tenant, { data: {}, tags: [] }, lowered, TEST_CHANGE)).rejects.toMatchObject({
        extensions: { quota: "entries", limit: 1 },
      });
      await expect(
        store.replaceEntry(tenant, a.id, { data: { text: "a".repeat(41) }, tags: [] }, undefined, lowered, TEST_CHANGE),
      ).rejects.toMatchObject({ extensions: { quota: "stored_bytes", limit: 50 } });
      await store.replaceEntry(
        tenant,
        a.id,
        { data: { text: "a".repeat(30) }, tags: [] },
        undefined,
        lowered,
        TEST_CHANGE,
      );
      await store.deleteEntry(tenant, b.id, undefined, TEST_CHANGE);
      await expect(store.createEntry(tenant, { data: {}, tags: [] }, lowered, TEST_CHANGE)).rejects.toMatchObject({
        extensions: { quota: "entries" },
      });
      expect(await store.storageOf(tenant)).toEqual({
        entryCount: 1,
        storedBytes: bytes({ text: "a".repeat(30) }),
        maxEntries: 1,
        maxStoredBytes: 50,
      });
    });

    it("is exact under concurrent inserts from separate connections", async () => {
      const limits = { maxEntries: 3, maxStorageBytes: null };
      const writers = await stores(12);
      const results = await Promise.allSettled(
        writers.map((w, i) => w.createEntry(tenant, { data: { i }, tags: [] }, limits, TEST_CHANGE)),
      );
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(3);
      for (const r of results.filter((r) => r.status === "rejected")) {
        expect(r.reason).toMatchObject({ type: "storage-quota-exceeded", extensions: { quota: "entries" } });
      }
      expect(await store.storageOf(tenant)).toMatchObject({ entryCount: 3 });
      expect((await store.listEntries(tenant, {}, { limit: 10 })).items).toHaveLength(3);
    });

    it("is exact for stored bytes under concurrent writes, deletes included", async () => {
      const limits = { maxEntries: null, maxStorageBytes: 100 };
      const doomed = await store.createEntry(tenant, { data: { text: "d".repeat(19) }, tags: [] }, limits, TEST_CHANGE); // 30
      const writers = await stores(8);
      const results = await Promise.allSettled([
        store.deleteEntry(tenant, doomed.id, undefined, TEST_CHANGE),
        ...writers.map((w) => w.createEntry(tenant, { data: { text: "w".repeat(19) }, tags: [] }, limits, TEST_CHANGE)),
      ]);
      expect(results[0]?.status).toBe("fulfilled");
      expect(results.filter((r) => r.status === "fulfilled").length - 1).toBeLessThanOrEqual(3);
      const listed = (await store.listEntries(tenant, {}, { limit: 20 })).items;
      const storage = await store.storageOf(tenant);
      expect(storage?.entryCount).toBe(listed.length);
      expect(storage?.storedBytes).toBe(listed.reduce((sum, e) => sum + e.sizeBytes, 0));
      expect(storage?.storedBytes).toBeLessThanOrEqual(100);
    });
  });

  describe("tenants", () => {
    it("keeps each tenant's entries invisible to every other tenant", async () => {
      const other = newId("ten");
      await store.registerTenant(other);
      const mine = await store.createEntry(
        tenant,
        { data: { secret: true }, tags: ["shared"] },
        unlimited,
        TEST_CHANGE,
      );
      await expect(store.getEntry(other, mine.id)).rejects.toMatchObject({ status: 404 });
      await expect(
        store.replaceEntry(other, mine.id, { data: {}, tags: [] }, undefined, unlimited, TEST_CHANGE),
      ).rejects.toMatchObject({ status: 404 });
      await expect(store.deleteEntry(other, mine.id, { ifMatch: "*" }, TEST_CHANGE)).rejects.toMatchObject({
        status: 404,
      });
      expect(await store.listEntries(other, {}, { limit: 10 })).toEqual({ items: [], hasMore: false });
      expect(await store.listEntries(other, { tag: "shared" }, { limit: 10 })).toEqual({ items: [], hasMore: false });
      expect(await store.getEntry(tenant, mine.id)).toEqual(mine);
      expect(await store.storageOf(other)).toMatchObject({ entryCount: 0, storedBytes: 0 });
    });

    it("registers a tenant idempotently, counters from zero; an unknown tenant has no storage", async () => {
      expect(await store.storageOf(tenant)).toEqual({
        entryCount: 0,
        storedBytes: 0,
        maxEntries: null,
        maxStoredBytes: null,
      });
      await store.createEntry(tenant, { data: { a: 1 }, tags: [] }, unlimited, TEST_CHANGE);
      await store.registerTenant(tenant);
      expect(await store.storageOf(tenant)).toMatchObject({ entryCount: 1, storedBytes: bytes({ a: 1 }) });
      expect(await store.storageOf(newId("ten"))).toBeNull();
    });

    it("neither counts nor limits a tenant the shard has no record of, as on D1", async () => {
      const stranger = newId("ten");
      await store.createEntry(stranger, { data: {}, tags: [] }, { maxEntries: 0, maxStorageBytes: 0 }, TEST_CHANGE);
      expect(await store.storageOf(stranger)).toBeNull();
      expect((await store.listEntries(stranger, {}, { limit: 5 })).items).toHaveLength(1);
    });

    it("sums usage over every tenant of the shard", async () => {
      const before = await store.totals();
      const other = newId("ten");
      await store.registerTenant(other);
      await store.createEntry(tenant, { data: { a: 1 }, tags: [] }, unlimited, TEST_CHANGE);
      await store.createEntry(other, { data: { bb: 22 }, tags: [] }, unlimited, TEST_CHANGE);
      const after = await store.totals();
      expect(Object.values(after).every(Number.isSafeInteger)).toBe(true);
      // Other test files may write to the same database meanwhile, so only a lower bound is exact.
      expect(after.tenants).toBeGreaterThanOrEqual(before.tenants + 1);
      expect(after.entryCount).toBeGreaterThanOrEqual(before.entryCount + 2);
      expect(after.storedBytes).toBeGreaterThanOrEqual(before.storedBytes + bytes({ a: 1 }) + bytes({ bb: 22 }));
    });
  });
});
