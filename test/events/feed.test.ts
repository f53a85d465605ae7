import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { controlDb } from "../../src/db/client";
import { eventCursors } from "../../src/events/cursor-table";
import { type FeedEvent, feedEvent } from "../../src/events/event";
import { queueBatches, queuePublish, relayTenant } from "../../src/events/relay";
import { adminKey, call, createTenant, TEST_CHANGE, tenantKey } from "../helpers";
import { withShard } from "../moves/fixture";

// The outbox end to end on each engine: a change commits its event, the relay publishes it in
// commit order, a refused or rolled-back write leaves none.

const db = controlDb(env);

/** Relays the tenant to the events queue and returns what it sent, in order. */
async function relayed(tenantId: string): Promise<FeedEvent[]> {
  const sent: FeedEvent[] = [];
  const toQueue = queuePublish(env);
  await relayTenant(env, db, tenantId, async (batch) => {
    await toQueue(batch);
    sent.push(...batch);
  });
  return sent;
}

/** The consumer's cursor once it has delivered through `seq`. */
async function waitForCursor(tenantId: string, seq: number) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const cursor = await db.query.eventCursors.findFirst({ where: eq(eventCursors.tenantId, tenantId) });
    if (cursor && cursor.throughSeq >= seq) return cursor;
    if (Date.now() > deadline) throw new Error(`cursor of ${tenantId}: ${JSON.stringify(cursor)}`);
    await scheduler.wait(20);
  }
}

async function feedOf(shardId: string, tenantId: string) {
  return withShard(shardId, (store) => store.feed.page(tenantId, 0, 1000));
}

describe("queue batches", () => {
  it("stay within the queue's bytes, counted as bytes: CJK text is three a character", () => {
    const big = (seq: number) => ({ ...EXAMPLE, seq, data: { text: "文".repeat(60_000) } }) as FeedEvent;
    const batches = queueBatches([1, 2, 3, 4, 5, 6, 7, 8].map(big));
    for (const batch of batches) {
      const bytes = batch.reduce((sum, e) => sum + new TextEncoder().encode(JSON.stringify(e)).byteLength, 0);
      expect(bytes).toBeLessThanOrEqual(256 * 1024);
    }
    expect(batches.flat().map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(
      queueBatches(Array.from({ length: 250 }, (_, i) => ({ ...EXAMPLE, seq: i + 1 }))).map((b) => b.length),
    ).toEqual([100, 100, 50]);
  });
});

const EXAMPLE: FeedEvent = {
  id: "evt_X_000000000001",
  tenant_id: "ten_X",
  seq: 1,
  type: "entry.created",
  subject: { type: "entry", id: "ent_X" },
  data: {},
  occurred_at: "2026-12-01T00:00:00.000Z",
  request_id: null,
  actor: { type: "system", id: "test", key_prefix: null },
};

describe.each(["d1-shared-0", "pg-0"])("the event feed on %s", (shardId) => {
  let admin: string;
  beforeAll(async () => {
    admin = await adminKey();
  });

  it("commits each change's event with it, numbered in commit order, and the relay publishes each once", async () => {
    const tenant = await createTenant(admin, { shard_id: shardId });
    const { secret } = await tenantKey(admin, tenant.id);
    const base = `/v1/tenants/${tenant.id}/entries`;
    const created = await call(base, { method: "POST", key: secret, body: { data: { a: 1 }, tags: ["x"] } });
    expect(created.status, created.text).toBe(201);
    const id = created.json.id as string;
    expect(
      (await call(`${base}/${id}`, { method: "PUT", key: secret, body: { data: { a: 2 }, tags: [] } })).status,
    ).toBe(200);
    expect((await call(`${base}/${id}`, { method: "DELETE", key: secret })).status).toBe(204);

    // Each write nudged the relay; what a nudge has not published yet this relay does.
    await relayed(tenant.id);
    expect(await relayed(tenant.id)).toEqual([]);
    const rows = await feedOf(shardId, tenant.id);
    expect(rows.every((row) => row.publishedAt !== null)).toBe(true);
    const first = rows.map(feedEvent);
    expect(first.map((e) => e.seq)).toEqual(first.map((_, i) => i + 1));
    expect(first.map((e) => e.id)).toEqual([...first.map((e) => e.id)].sort());
    // Entry events enter the feed as their writes commit; control-plane events as the relay
    // carries them from the control database, each source in its own commit order.
    const ofEntries = first.filter((e) => e.subject.type === "entry");
    const control = first.filter((e) => e.subject.type !== "entry");
    expect(ofEntries.map((e) => e.type)).toEqual(["entry.created", "entry.replaced", "entry.deleted"]);
    expect(control.map((e) => e.type)).toEqual(["tenant.created", "tenant.provisioned", "key.created"]);
    const [createdEvent, replaced, deleted] = ofEntries as [FeedEvent, FeedEvent, FeedEvent];
    expect(createdEvent).toMatchObject({
      tenant_id: tenant.id,
      subject: { type: "entry", id },
      data: { id, tenant_id: tenant.id, data: { a: 1 }, tags: ["x"], version: 1 },
      actor: { type: "api_key", key_prefix: expect.any(String) },
    });
    expect(createdEvent.request_id).toBe(created.headers.get("X-Request-Id"));
    expect(replaced.data).toMatchObject({ data: { a: 2 }, tags: [], version: 2 });
    expect(deleted.data).toEqual({ id });
    // Key events never carry the secret's hash.
    expect(control[2]?.data).toMatchObject({ tenant_id: tenant.id, scopes: expect.any(Array) });
    expect(JSON.stringify(control[2])).not.toContain("secret_hash");

    // The queue delivered every event to the consumer, which counts each once.
    const cursor = await waitForCursor(tenant.id, first.length);
    expect(cursor).toMatchObject({ throughSeq: first.length, ahead: [], delivered: first.length });
  });

  it("writes no event for a write that was refused or lost its precondition", async () => {
    const tenant = await createTenant(admin, { shard_id: shardId });
    const { secret } = await tenantKey(admin, tenant.id);
    const base = `/v1/tenants/${tenant.id}/entries`;
    const created = await call(base, { method: "POST", key: secret, body: { data: { a: 1 }, tags: [] } });
    const id = created.json.id as string;
    await relayed(tenant.id);
    const before = (await feedOf(shardId, tenant.id)).length;

    const stale = await call(`${base}/${id}`, {
      method: "PUT",
      key: secret,
      headers: { "If-Match": '"7"' },
      body: { data: { a: 2 }, tags: [] },
    });
    expect(stale.status).toBe(412);
    const staleDelete = await call(`${base}/${id}`, { method: "DELETE", key: secret, headers: { "If-Match": '"9"' } });
    expect(staleDelete.status).toBe(412);
    const missing = await call(`${base}/ent_01JD8X5Q3M2V7T6R4N9K0B1C2G`, { method: "DELETE", key: secret });
    expect(missing.status).toBe(404);
    // Past the storage quota: the shard refuses the write in its transaction, which rolls back.
    await withShard(shardId, async (store) => {
      await expect(
        store.createEntry(
          tenant.id,
          { data: { b: 1 }, tags: [] },
          { maxEntries: 1, maxStorageBytes: null },
          TEST_CHANGE,
        ),
      ).rejects.toMatchObject({ type: "storage-quota-exceeded" });
    });
    expect((await feedOf(shardId, tenant.id)).length).toBe(before);
  });
});
