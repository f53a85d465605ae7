import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { controlDb } from "../../src/db/client";
import { eventCursors } from "../../src/events/cursor-table";
import type { FeedEvent } from "../../src/events/event";
import { outbox } from "../../src/events/outbox-table";
import { publishFeed, relayOutbox } from "../../src/events/relay";
import { adminKey, call, captureConsole, createTenant, settled, TEST_CHANGE, tenantKey } from "../helpers";
import { startMove, waitForMove, withShard } from "../moves/fixture";

// Nothing is lost on the way: a relay that fails half-way leaves the rest for the next one, and a
// tenant's feed survives moves between engines with every event delivered once after dedup.

const db = controlDb(env);
const unlimited = { maxEntries: null, maxStorageBytes: null };

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

describe("a relay that fails half-way", () => {
  captureConsole("warn");

  it("publishes what it had not marked again, so every event reaches the queue at least once", async () => {
    const tenant = await createTenant(admin, { shard_id: "d1-shared-0" });
    await settled(tenant.id);
    // 250 events: three queue batches of at most 100.
    await withShard("d1-shared-0", async (store) => {
      for (let i = 0; i < 250; i++)
        await store.createEntry(tenant.id, { data: { i }, tags: [] }, unlimited, TEST_CHANGE);
    });
    const pending = await withShard("d1-shared-0", (store) => store.feed.unpublished(tenant.id, 1000));
    expect(pending).toHaveLength(250);
    const sent: FeedEvent[] = [];
    let batches = 0;
    const failing = async (batch: FeedEvent[]) => {
      if (++batches === 2) throw new Error("the queue refused the batch");
      sent.push(...batch);
    };
    await expect(withShard("d1-shared-0", (store) => publishFeed(store, tenant.id, failing))).rejects.toThrow(
      "the queue refused",
    );
    expect(sent).toHaveLength(100);
    const rest: FeedEvent[] = [];
    await withShard("d1-shared-0", (store) =>
      publishFeed(store, tenant.id, async (batch) => {
        rest.push(...batch);
      }),
    );
    const all = [...sent, ...rest];
    const seqs = new Set(all.map((e) => e.seq));
    const feed = await withShard("d1-shared-0", (store) => store.feed.page(tenant.id, 0, 1000));
    expect([...seqs].sort((a, b) => a - b)).toEqual(pending.map((e) => e.seq));
    expect(feed.every((e) => e.publishedAt !== null)).toBe(true);
  });

  it("carries the outbox rows it could not carry on the next pass, each once", async () => {
    // A tenant with no shard yet: its rows wait in the outbox, and nothing else's is held up.
    const waiting = "ten_01JD8X5Q3M2V7T6R4N9K0B1C2Z";
    const tenant = await createTenant(admin, { shard_id: "d1-shared-1" });
    await settled(tenant.id);
    const event = (n: number) => ({
      type: "user.updated",
      subject: { type: "user", id: `usr_${n}` },
      data: { id: `usr_${n}` },
      requestId: null,
      actor: TEST_CHANGE.actor,
      occurredAt: Date.now(),
    });
    // More rows of the waiting tenant than a page holds, ahead of the others': they must not starve them.
    for (let i = 0; i < 6; i++) {
      await db.insert(outbox).values(
        Array.from({ length: 20 }, () => ({
          tenantId: waiting,
          kind: "event" as const,
          payload: event(0),
          createdAt: Date.now(),
        })),
      );
    }
    await db.insert(outbox).values([
      { tenantId: tenant.id, kind: "event", payload: event(1), createdAt: Date.now() },
      { tenantId: tenant.id, kind: "event", payload: event(2), createdAt: Date.now() },
    ]);
    const [first] = await db.select().from(outbox).where(eq(outbox.tenantId, tenant.id));
    // As if an earlier relay appended the first row, then died before deleting it.
    await withShard("d1-shared-1", (store) =>
      store.feed.appendRelayed(tenant.id, [first as typeof outbox.$inferSelect]),
    );
    expect(await relayOutbox(env, db)).toBe(2);
    const feed = await withShard("d1-shared-1", (store) => store.feed.page(tenant.id, 0, 100));
    expect(feed.filter((e) => e.type === "user.updated").map((e) => e.subjectId)).toEqual(["usr_1", "usr_2"]);
    const left = await db.select().from(outbox);
    expect(left).toHaveLength(120);
    expect(new Set(left.map((row) => row.tenantId))).toEqual(new Set([waiting]));
    await db.delete(outbox).where(eq(outbox.tenantId, waiting));
  });
});

describe("a tenant's feed across moves D1 → PostgreSQL → D1", () => {
  it("keeps every event, in one gapless sequence, each delivered once after dedup", async () => {
    const tenant = await createTenant(admin, { shard_id: "d1-shared-0" });
    const key = (await tenantKey(admin, tenant.id)).secret;
    let created = 0;
    const write = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const res = await call(`/v1/tenants/${tenant.id}/entries`, {
          method: "POST",
          key,
          body: { data: { i }, tags: [] },
        });
        expect(res.status).toBe(201);
        created++;
      }
    };
    await write(20);
    for (const target of ["pg-0", "d1-shared-0"]) {
      const move = await startMove(admin, tenant.id, target);
      // Writes go on while the move copies and cuts over.
      const [, done] = await Promise.all([write(15), waitForMove(admin, tenant.id, move.id)]);
      expect(done.state).toBe("completed");
    }
    await write(5);
    await settled(tenant.id, 30_000);
    const feed = await withShard("d1-shared-0", (store) => store.feed.page(tenant.id, 0, 1000));
    expect(feed.map((e) => e.seq)).toEqual(feed.map((_, i) => i + 1));
    expect(feed.filter((e) => e.type === "entry.created")).toHaveLength(created);
    const cursor = await db.query.eventCursors.findFirst({ where: eq(eventCursors.tenantId, tenant.id) });
    // Delivered through the last event with nothing ahead of a gap: none lost; each counted once.
    expect(cursor).toMatchObject({ throughSeq: feed.length, ahead: [], delivered: feed.length });
    // The copies the moves left on the shards it passed through are gone.
    expect(await withShard("pg-0", (store) => store.feed.page(tenant.id, 0, 10))).toEqual([]);
  }, 120_000);
});
