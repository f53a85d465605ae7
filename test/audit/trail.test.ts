import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { auditRecord } from "../../src/audit/record";
import { applyAuditRetention, dropExpired } from "../../src/audit/retention";
import { verifyTrail } from "../../src/audit/service";
import { controlDb } from "../../src/db/client";
import { relayTenant } from "../../src/events/relay";
import { applyEventRetention } from "../../src/events/retention";
import { limitedTenant } from "../gate/fixture";
import { adminKey, call, createTenant, tenantKey } from "../helpers";
import { withShard } from "../moves/fixture";

// The trail's seq under concurrency, and retention by plan.

const db = controlDb(env);
const KEY = env.AUDIT_CHECKPOINT_KEY;
const DAY = 24 * 60 * 60 * 1000;

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

const recordsOf = (shardId: string, tenantId: string) =>
  withShard(shardId, async (store) =>
    (await store.trail.walk(tenantId, 0, 10_000)).map((r) => auditRecord(tenantId, r)),
  );

/** Runs `tasks` with at most `width` at a time. */
async function inParallel<T>(tasks: (() => Promise<T>)[], width: number): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < tasks.length) {
        const i = next++;
        results[i] = await (tasks[i] as () => Promise<T>)();
      }
    }),
  );
  return results;
}

// Every request opens its own PostgreSQL connection here (there is no Hyperdrive pool locally),
// so the PostgreSQL run keeps under the server's 100 connections.
describe.each([
  ["d1-shared-0", 200],
  ["pg-0", 40],
])("200 concurrent writes of one tenant on %s", (shardId, width) => {
  it("get seqs 1…n without a gap, and the chain verifies", async () => {
    const { tenant, key } = await limitedTenant(
      admin,
      { requests_per_minute: 100_000, max_concurrency: 500 },
      "STANDARD",
      {
        shard_id: shardId,
      },
    );
    const writes = Array.from(
      { length: 200 },
      (_, i) => () =>
        call(`/v1/tenants/${tenant.id}/entries`, { method: "POST", key, body: { data: { i }, tags: [] } }),
    );
    const answers = await inParallel(writes, width);
    expect(answers.map((res) => res.status).filter((status) => status !== 201)).toEqual([]);
    await relayTenant(env, db, tenant.id);
    const records = await recordsOf(shardId, tenant.id);
    expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => i + 1));
    expect(records.filter((r) => r.action === "entry.created")).toHaveLength(200);
    const verified = await withShard(shardId, (store) => verifyTrail(store.trail, tenant.id, KEY));
    expect(verified).toMatchObject({ ok: true, checked: records.length, pending: 0 });
    // The feed alike: one event per write, its seqs without a gap.
    const feed = await withShard(shardId, (store) => store.feed.page(tenant.id, 0, 1000));
    expect(feed.map((e) => e.seq)).toEqual(feed.map((_, i) => i + 1));
    expect(feed.filter((e) => e.type === "entry.created")).toHaveLength(200);
  }, 60_000);
});

describe("retention", () => {
  it("drops exactly the records past the plan's window, keeps a signed start, and the rest still verifies", async () => {
    const write = async (tenantId: string, key: string) =>
      expect(
        (await call(`/v1/tenants/${tenantId}/entries`, { method: "POST", key, body: { data: {}, tags: [] } })).status,
      ).toBe(201);
    const free = await createTenant(admin, { shard_id: "d1-shared-0", tier: "FREE" });
    const standard = await createTenant(admin, { shard_id: "d1-shared-0", tier: "STANDARD" });
    const freeKey = (await tenantKey(admin, free.id)).secret;
    const standardKey = (await tenantKey(admin, standard.id)).secret;
    for (let i = 0; i < 3; i++) await write(free.id, freeKey);
    await write(standard.id, standardKey);
    await relayTenant(env, db, free.id);
    await relayTenant(env, db, standard.id);
    await scheduler.wait(5);
    const boundary = Date.now();
    await scheduler.wait(5);
    for (let i = 0; i < 2; i++) await write(free.id, freeKey);
    await relayTenant(env, db, free.id);
    const before = await recordsOf("d1-shared-0", free.id);
    const old = before.filter((r) => Date.parse(r.occurred_at) < boundary);
    expect(old.length).toBe(4);

    // The daily run, 30 days (FREE's window) after the boundary.
    await applyAuditRetention(db, env, boundary + 30 * DAY);
    const after = await recordsOf("d1-shared-0", free.id);
    expect(after).toEqual(before.filter((r) => Date.parse(r.occurred_at) >= boundary));
    const checkpoints = await withShard("d1-shared-0", (store) => store.trail.checkpoints(free.id));
    expect(checkpoints[0]?.seq).toBe(old.at(-1)?.seq);
    const verified = await withShard("d1-shared-0", (store) => verifyTrail(store.trail, free.id, KEY));
    expect(verified).toMatchObject({ ok: true, start: { seq: old.at(-1)?.seq, from: "checkpoint" }, checked: 2 });
    // STANDARD keeps 90 days: nothing of it went.
    expect(await recordsOf("d1-shared-0", standard.id)).toHaveLength(2);
    // Run again: nothing more goes, and records keep their seqs after the checkpoint.
    await applyAuditRetention(db, env, boundary + 30 * DAY);
    expect(await recordsOf("d1-shared-0", free.id)).toEqual(after);
    await write(free.id, freeKey);
    await relayTenant(env, db, free.id);
    const next = await recordsOf("d1-shared-0", free.id);
    expect(next.at(-1)?.seq).toBe((before.at(-1)?.seq as number) + 1);
    expect((await withShard("d1-shared-0", (store) => verifyTrail(store.trail, free.id, KEY))).ok).toBe(true);
  });

  it("drops a long backlog in chunks, each verified and ending at a signed checkpoint", async () => {
    const tenant = await createTenant(admin, { shard_id: "d1-shared-1" });
    const key = (await tenantKey(admin, tenant.id)).secret;
    for (let i = 0; i < 4; i++) {
      await call(`/v1/tenants/${tenant.id}/entries`, { method: "POST", key, body: { data: {}, tags: [] } });
    }
    await relayTenant(env, db, tenant.id);
    const total = (await recordsOf("d1-shared-1", tenant.id)).length;
    const later = Date.now() + DAY;
    const drops: number[] = [];
    for (;;) {
      const dropped = await withShard("d1-shared-1", (store) =>
        dropExpired(store.trail, tenant.id, KEY, later, later, 2),
      );
      drops.push(dropped);
      const verified = await withShard("d1-shared-1", (store) => verifyTrail(store.trail, tenant.id, KEY));
      expect(verified.ok, JSON.stringify(verified)).toBe(true);
      if (dropped < 2) break;
    }
    expect(drops.reduce((sum, n) => sum + n, 0)).toBe(total);
    expect(drops.slice(0, -1).every((n) => n === 2)).toBe(true);
    expect(await recordsOf("d1-shared-1", tenant.id)).toEqual([]);
  });

  it("drops published events past EVENT_RETENTION_DAYS but each tenant's newest, so a seq is never given twice", async () => {
    const tenant = await createTenant(admin, { shard_id: "d1-shared-1" });
    const key = (await tenantKey(admin, tenant.id)).secret;
    for (let i = 0; i < 3; i++) {
      await call(`/v1/tenants/${tenant.id}/entries`, { method: "POST", key, body: { data: {}, tags: [] } });
    }
    await relayTenant(env, db, tenant.id);
    const feed = () => withShard("d1-shared-1", (store) => store.feed.page(tenant.id, 0, 100));
    const all = await feed();
    await applyEventRetention(db, env, Date.now() + 36 * DAY);
    expect((await feed()).map((e) => e.seq)).toEqual([all.at(-1)?.seq]);
    await call(`/v1/tenants/${tenant.id}/entries`, { method: "POST", key, body: { data: {}, tags: [] } });
    expect((await feed()).map((e) => e.seq)).toEqual([all.at(-1)?.seq, (all.at(-1)?.seq as number) + 1]);
  });
});
