import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { entryData } from "../../src/entries/dataset";
import type { Entry } from "../../src/entries/table";
import { eventFeed } from "../../src/events/dataset";
import { newId } from "../../src/http/ids";
import {
  type CopyPosition,
  copyBatch,
  positionOf,
  positionText,
  summarize,
  syncDifferences,
  verifyCopies,
} from "../../src/moves/transfer";
import { d1Store } from "../../src/shards/d1-store";
import { openPgShard } from "../../src/shards/pg-store";
import type { ShardStore } from "../../src/shards/store";
import { TEST_CHANGE } from "../helpers";

// The copy, diff and verification a move runs, on real shards.

const unlimited = { maxEntries: null, maxStorageBytes: null };
const source = d1Store(env.SHARD_D1_0);
const target = d1Store(env.SHARD_D1_1);
let pg: ShardStore;
beforeAll(async () => {
  pg = await openPgShard(env.SHARD_PG_0.connectionString);
});
afterAll(async () => {
  await pg.close();
});

/** Copies every shard dataset of the tenant, as a move's copy phase does. */
async function copyAll(from: ShardStore, to: ShardStore, tenantId: string) {
  let position = positionOf(null);
  for (;;) {
    const batch = await copyBatch(from, to, tenantId, position, 4);
    if (batch.done) return;
    position = batch.position;
  }
}

async function tenantOnBoth(...stores: ShardStore[]) {
  const tenantId = newId("ten");
  for (const store of stores) await store.registerTenant(tenantId);
  return tenantId;
}

describe("syncDifferences", () => {
  it("copies what is missing or at another version, removes what the source no longer has", async () => {
    const tenantId = await tenantOnBoth(source, target);
    const a = await source.createEntry(tenantId, { data: { a: 1 }, tags: ["x"] }, unlimited, TEST_CHANGE);
    const b = await source.createEntry(tenantId, { data: { b: 1 }, tags: [] }, unlimited, TEST_CHANGE);
    const gone = await source.createEntry(tenantId, { data: { gone: 1 }, tags: [] }, unlimited, TEST_CHANGE);
    // Past seq 9 in the feed, where its numeric keys would sort wrongly as text ("10" < "9").
    for (let i = 0; i < 8; i++) await source.createEntry(tenantId, { data: { i }, tags: [] }, unlimited, TEST_CHANGE);
    await copyAll(source, target, tenantId);
    // Meanwhile on the source: one replaced, one created, one deleted, each with its event.
    await source.replaceEntry(tenantId, b.id, { data: { b: 2 }, tags: ["y"] }, undefined, unlimited, TEST_CHANGE);
    const c = await source.createEntry(tenantId, { data: { c: 1 }, tags: [] }, unlimited, TEST_CHANGE);
    await source.deleteEntry(tenantId, gone.id, undefined, TEST_CHANGE);

    expect(await syncDifferences(source, target, tenantId, 2)).toEqual({ copied: 2 + 3, removed: 1 });
    expect(await target.rows(entryData, tenantId, null, 20)).toEqual(await source.rows(entryData, tenantId, null, 20));
    expect(await target.rows(eventFeed, tenantId, null, 20)).toEqual(await source.rows(eventFeed, tenantId, null, 20));
    expect((await target.rows(eventFeed, tenantId, null, 20)).map((e) => e.seq)).toEqual(
      Array.from({ length: 14 }, (_, i) => i + 1),
    );
    expect((await target.listEntries(tenantId, { tag: "y" }, { limit: 10 })).items.map((e) => e.id)).toEqual([b.id]);
    const left = (await target.versions(entryData, tenantId, null, 20)).map((v) => v.id);
    expect(left).toHaveLength(11);
    expect(left).toEqual(expect.arrayContaining([a.id, b.id, c.id]));
    expect(left).not.toContain(gone.id);
    expect(await syncDifferences(source, target, tenantId, 2)).toEqual({ copied: 0, removed: 0 });
  });
});

describe("verifyCopies", () => {
  async function copied() {
    const tenantId = await tenantOnBoth(source, target);
    for (let i = 0; i < 5; i++)
      await source.createEntry(tenantId, { data: { i, z: "last", a: "first" }, tags: [] }, unlimited, TEST_CHANGE);
    await copyAll(source, target, tenantId);
    return tenantId;
  }

  it("finds equal copies equal, with the source's count and checksum", async () => {
    const tenantId = await copied();
    const result = await verifyCopies(source, target, tenantId, 2);
    expect(result.mismatches).toEqual([]);
    expect(result.summary).toEqual(await summarize(target, tenantId, 3));
    // Five entries and their five events.
    expect(result.summary.rows).toBe(10);
  });

  it("catches a row that differs at the same version", async () => {
    const tenantId = await copied();
    const [first] = await target.rows(entryData, tenantId, null, 1);
    await env.SHARD_D1_1.prepare("UPDATE entries SET data = ? WHERE tenant_id = ? AND id = ?")
      .bind(JSON.stringify({ tampered: true }), tenantId, (first as Entry).id)
      .run();
    expect((await verifyCopies(source, target, tenantId, 2)).mismatches).toEqual(["the entries' checksums differ"]);
  });

  it("catches a missing row and counters that disagree with the rows", async () => {
    const tenantId = await copied();
    const [first] = await target.rows(entryData, tenantId, null, 1);
    await env.SHARD_D1_1.prepare("DELETE FROM entries WHERE tenant_id = ? AND id = ?")
      .bind(tenantId, (first as Entry).id)
      .run();
    expect((await verifyCopies(source, target, tenantId, 2)).mismatches).toEqual(["source has 5 entries, target 4"]);
    await env.SHARD_D1_1.prepare("UPDATE shard_tenants SET entry_count = 99 WHERE tenant_id = ?").bind(tenantId).run();
    const { mismatches } = await verifyCopies(source, target, tenantId, 2);
    expect(mismatches[1]).toMatch(/^the target counts 99 entries and \d+ bytes but holds 4 and \d+$/);
  });

  it("gives D1 and PostgreSQL copies the same checksum although jsonb reorders keys", async () => {
    const tenantId = await copied();
    await pg.registerTenant(tenantId);
    await copyAll(source, pg, tenantId);
    const [row] = await pg.rows(entryData, tenantId, null, 1);
    expect(Object.keys((row as Entry).data)).not.toEqual(["i", "z", "a"]);
    expect((await verifyCopies(source, pg, tenantId, 2)).mismatches).toEqual([]);
    await pg.purgeTenant(tenantId, 100);
  });
});

describe("copyBatch over the registry's datasets", () => {
  // A second dataset over the same table stands in for a later shard dataset.
  const copyOfEntries = { ...entryData, name: "entries-again" };

  it("copies each dataset in turn, in key order, and says where it got to", async () => {
    const tenantId = await tenantOnBoth(source, target);
    const made: Entry[] = [];
    for (let i = 0; i < 3; i++)
      made.push(await source.createEntry(tenantId, { data: { i }, tags: [] }, unlimited, TEST_CHANGE));
    const ids = made.map((e) => e.id).sort();
    const datasets = [entryData, copyOfEntries];
    const steps: CopyPosition[] = [];
    let position = positionOf(null, datasets);
    for (;;) {
      const batch = await copyBatch(source, target, tenantId, position, 2, datasets);
      if (batch.done) break;
      position = batch.position;
      steps.push(position);
    }
    // A short page ends its dataset.
    expect(steps).toEqual([
      { dataset: "entries", after: ids[1] },
      { dataset: "entries-again", after: null },
      { dataset: "entries-again", after: ids[1] },
    ]);
    expect(await target.rows(entryData, tenantId, null, 10)).toEqual(await source.rows(entryData, tenantId, null, 10));
  });

  it("stores a position as text and reads back older bare entry ids as entries positions", () => {
    const position = { dataset: "entries", after: "ent_01J" };
    expect(positionOf(positionText(position))).toEqual(position);
    expect(positionOf(positionText({ dataset: "entries", after: null }))).toEqual({ dataset: "entries", after: null });
    expect(positionOf("ent_01J")).toEqual(position);
    expect(positionOf(null)).toEqual({ dataset: "entries", after: null });
  });
});
