import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { chainTrail, signAt } from "../../src/audit/chainer";
import { signCheckpoint } from "../../src/audit/checkpoints";
import { auditId, auditRecord, chainHash, GENESIS_HASH } from "../../src/audit/record";
import { verifyTrail } from "../../src/audit/service";
import { controlDb } from "../../src/db/client";
import { relayTenant } from "../../src/events/relay";
import { adminKey, call, createTenant, shardBinding, tenantKey } from "../helpers";
import { withShard } from "../moves/fixture";

// The tenant's hash chain catches every way of rewriting its records, one test each, and a
// checkpoint nobody holding the key signed.

const db = controlDb(env);
const KEY = env.AUDIT_CHECKPOINT_KEY;
const SHARD = "d1-shared-0";

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

/** A tenant with `writes` entry writes audited, relayed and linked. */
async function trailOf(writes: number) {
  const tenant = await createTenant(admin, { shard_id: SHARD });
  const { secret } = await tenantKey(admin, tenant.id);
  for (let i = 0; i < writes; i++) {
    const res = await call(`/v1/tenants/${tenant.id}/entries`, {
      method: "POST",
      key: secret,
      body: { data: { i }, tags: [] },
    });
    expect(res.status, res.text).toBe(201);
  }
  await relayTenant(env, db, tenant.id);
  const shard = await shardBinding(SHARD);
  return { tenantId: tenant.id, shard };
}

const verify = (tenantId: string) => withShard(SHARD, (store) => verifyTrail(store.trail, tenantId, KEY));
const records = (tenantId: string) =>
  withShard(SHARD, async (store) =>
    (await store.trail.walk(tenantId, 0, 1000)).map((row) => auditRecord(tenantId, row)),
  );

describe("a tenant's audit chain", () => {
  it("verifies from genesis when nothing was touched, every record linked to the one before", async () => {
    const { tenantId } = await trailOf(5);
    const all = await records(tenantId);
    // The key's creation (relayed from the control database: before or among the writes), and the five writes.
    expect(all.map((r) => r.action).sort()).toEqual([...Array(5).fill("entry.created"), "key.created"]);
    expect(all.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    let prev = GENESIS_HASH;
    for (const record of all) {
      expect(record.prev_hash).toBe(prev);
      expect(record.hash).toBe(chainHash(prev, record));
      prev = record.hash as string;
    }
    const checkpoints = await withShard(SHARD, (store) => store.trail.checkpoints(tenantId));
    expect(checkpoints.length).toBeGreaterThan(0);
    expect(await verify(tenantId)).toMatchObject({
      ok: true,
      start: { seq: 0, from: "genesis" },
      checked: 6,
      checkpoints_checked: checkpoints.length,
      pending: 0,
      head: { seq: 6, hash: prev },
      broken: null,
    });
  });

  it("links runs left unlinked between linked records (as a move leaves them) each to its own predecessor", async () => {
    const { tenantId, shard } = await trailOf(7);
    const before = await records(tenantId);
    await shard
      .prepare("UPDATE audit_events SET prev_hash = NULL, hash = NULL WHERE tenant_id = ? AND seq IN (3, 4, 7)")
      .bind(tenantId)
      .run();
    // Verification chains through what is not linked yet: nothing is broken, three are pending.
    expect(await verify(tenantId)).toMatchObject({ ok: true, pending: 3, checked: before.length - 3 });
    await withShard(SHARD, (store) => chainTrail(store.trail, tenantId, KEY));
    expect(await records(tenantId)).toEqual(before);
    expect(await verify(tenantId)).toMatchObject({ ok: true, pending: 0, checked: before.length });
  });

  it("catches an edited record", async () => {
    const { tenantId, shard } = await trailOf(4);
    await shard
      .prepare("UPDATE audit_events SET outcome_status = 200 WHERE tenant_id = ? AND seq = 3")
      .bind(tenantId)
      .run();
    expect((await verify(tenantId)).broken).toEqual({ seq: 3, reason: "hash does not match the record's content" });
  });

  it("catches a deleted record", async () => {
    const { tenantId, shard } = await trailOf(4);
    await shard.prepare("DELETE FROM audit_events WHERE tenant_id = ? AND seq = 2").bind(tenantId).run();
    expect((await verify(tenantId)).broken).toEqual({ seq: 3, reason: "seq 3 follows 1: records 2…2 are missing" });
  });

  it("catches an inserted record, even one whose own link and hash are right", async () => {
    const { tenantId, shard } = await trailOf(4);
    const [, second] = await records(tenantId);
    // Make room after seq 2 and forge a record there, linked and hashed as the chainer would.
    await shard
      .prepare("UPDATE audit_events SET seq = seq + 1000 WHERE tenant_id = ? AND seq > 2")
      .bind(tenantId)
      .run();
    await shard
      .prepare("UPDATE audit_events SET seq = seq - 999 WHERE tenant_id = ? AND seq > 1000")
      .bind(tenantId)
      .run();
    const base = second as NonNullable<typeof second>;
    const forged = {
      ...base,
      id: auditId(tenantId, 3),
      seq: 3,
      action: "entry.deleted",
      outcome: { status: 204 },
      prev_hash: base.hash,
    };
    await shard
      .prepare(
        "INSERT INTO audit_events (tenant_id, seq, action, actor_type, actor_id, actor_key_prefix, targets, context, outcome_status, occurred_at, origin, prev_hash, hash) VALUES (?, 3, 'entry.deleted', ?, ?, ?, ?, ?, 204, ?, NULL, ?, ?)",
      )
      .bind(
        tenantId,
        forged.actor.type,
        forged.actor.id,
        forged.actor.key_prefix,
        JSON.stringify(forged.targets),
        JSON.stringify(forged.context),
        Date.parse(forged.occurred_at),
        base.hash,
        chainHash(base.hash as string, forged),
      )
      .run();
    // The forged record itself checks out; the one it displaced no longer links to it.
    expect((await verify(tenantId)).broken).toEqual({ seq: 4, reason: "prev_hash is not the previous record's hash" });
  });

  it("catches two records swapped", async () => {
    const { tenantId, shard } = await trailOf(4);
    for (const sql of [
      "UPDATE audit_events SET seq = 100 WHERE tenant_id = ?1 AND seq = 3",
      "UPDATE audit_events SET seq = 3 WHERE tenant_id = ?1 AND seq = 4",
      "UPDATE audit_events SET seq = 4 WHERE tenant_id = ?1 AND seq = 100",
    ]) {
      await shard.prepare(sql).bind(tenantId).run();
    }
    expect((await verify(tenantId)).broken).toEqual({ seq: 3, reason: "prev_hash is not the previous record's hash" });
  });

  it("catches a checkpoint not signed with the key", async () => {
    const { tenantId, shard } = await trailOf(3);
    const [record] = (await records(tenantId)).slice(-1);
    const forged = signCheckpoint("not-the-checkpoint-key-0123456789abcdef", {
      tenant: tenantId,
      seq: record?.seq as number,
      hash: record?.hash as string,
      time: new Date(1_800_000_000_000).toISOString(),
    });
    await shard
      .prepare(
        "INSERT INTO audit_checkpoints (tenant_id, seq, hash, signed_at, signature) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET signature = excluded.signature, signed_at = excluded.signed_at",
      )
      .bind(tenantId, record?.seq, record?.hash, 1_800_000_000_000, forged)
      .run();
    const { broken } = await verify(tenantId);
    expect(broken).toEqual({
      seq: record?.seq,
      reason: `the checkpoint at seq ${record?.seq} is not signed with the checkpoint key`,
    });
  });

  it("catches a whole chain recomputed after an edit, by the checkpoint signed before", async () => {
    const { tenantId, shard } = await trailOf(3);
    const all = await records(tenantId);
    const [checkpoint] = await withShard(SHARD, (store) => store.trail.checkpoints(tenantId));
    expect(checkpoint).toBeDefined();
    // Someone with the database but not the key edits the first record and relinks everything after it.
    let prev = GENESIS_HASH;
    for (const record of all) {
      const rewritten = record.seq === 1 ? { ...record, outcome: { status: 500 } } : record;
      const hash = chainHash(prev, rewritten);
      await shard
        .prepare("UPDATE audit_events SET outcome_status = ?, prev_hash = ?, hash = ? WHERE tenant_id = ? AND seq = ?")
        .bind(rewritten.outcome.status, prev, hash, tenantId, record.seq)
        .run();
      prev = hash;
    }
    const { broken } = await verify(tenantId);
    expect(broken).toEqual({
      seq: checkpoint?.seq,
      reason: `the chain's hash at seq ${checkpoint?.seq} is not the one its checkpoint signed`,
    });
  });

  it("catches records cut off the end before a checkpoint's seq", async () => {
    const { tenantId, shard } = await trailOf(3);
    const head = (await records(tenantId)).at(-1) as { seq: number; hash: string };
    // The periodic checkpoint of the head, then the newest two records deleted.
    await withShard(SHARD, (store) => signAt(store.trail, tenantId, KEY, head));
    await shard
      .prepare("DELETE FROM audit_events WHERE tenant_id = ? AND seq >= ?")
      .bind(tenantId, head.seq - 1)
      .run();
    expect((await verify(tenantId)).broken).toEqual({
      seq: head.seq - 1,
      reason: `a checkpoint signed seq ${head.seq}, past the last record`,
    });
  });
});
