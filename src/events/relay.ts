import { and, asc, eq, gt, inArray } from "drizzle-orm";
import { chainTrail } from "../audit/chainer";
import { checkpointKey } from "../audit/checkpoints";
import { platformTrail } from "../audit/platform";
import type { ControlDb } from "../db/client";
import { errorText } from "../db/errors";
import { chunksOf } from "../db/sql";
import { eachShardJob } from "../shards/connection";
import type { ShardStore } from "../shards/store";
import { shards } from "../shards/table";
import { type FeedEvent, feedEvent } from "./event";
import { type OutboxRow, outbox } from "./outbox-table";
import { onTenantShard } from "./tenant-shard";

// The relay: carries control-plane events and audit records from the control database's outbox
// to the tenant's shard, publishes each tenant's new events to the events queue and links its
// audit records. Nudged right after a write (waitUntil) and swept every minute by a cron, so a
// lost nudge delays work by a minute at most; every step may run twice (or at once) harmlessly.

/** Outbox rows read per pass. */
const OUTBOX_PAGE = 100;
/** A queue batch holds at most 100 messages and 256 KB; an event's data is at most an entry (64 KiB). */
const QUEUE_BATCH_MESSAGES = 100;
const QUEUE_BATCH_BYTES = 192 * 1024;
/** What a message costs a batch beside its body (its metadata), with room to spare. */
const MESSAGE_OVERHEAD_BYTES = 512;
/** Events published per tenant per pass. */
const PUBLISH_PAGE = 500;

/** Sends one batch of events to the events queue; tests pass their own to see what a relay sends. */
export type Publish = (events: FeedEvent[]) => Promise<void>;

export const queuePublish =
  (env: Env): Publish =>
  async (events) => {
    await env.EVENTS_QUEUE.sendBatch(events.map((body) => ({ body, contentType: "json" as const })));
  };

/** Appends the tenant's outbox rows to its feed and trail on `store`, then deletes them here. */
async function appendOutbox(db: ControlDb, store: ShardStore, tenantId: string, rows: OutboxRow[]) {
  await store.feed.appendRelayed(tenantId, rows);
  const ids = rows.map((row) => row.id);
  await db.batch(
    chunksOf(ids, 90).map((chunk) => db.delete(outbox).where(inArray(outbox.id, chunk))) as [never, ...never[]],
  );
}

/** A page of the outbox in id order after `after`: one tenant's rows, or everyone's. */
const outboxPage = (db: ControlDb, tenantId: string | undefined, after: number) =>
  db
    .select()
    .from(outbox)
    .where(and(tenantId === undefined ? undefined : eq(outbox.tenantId, tenantId), gt(outbox.id, after)))
    .orderBy(asc(outbox.id))
    .limit(OUTBOX_PAGE);

/**
 * Carries the whole outbox, page by page in id order; returns the rows carried. A tenant it cannot
 * carry now (no shard yet, a move's fence) keeps its rows for the next pass, and its later rows
 * wait too, so each tenant's rows stay in order; nobody else's wait.
 */
export async function relayOutbox(env: Env, db: ControlDb): Promise<number> {
  let carried = 0;
  let after = 0;
  const skipped = new Set<string>();
  for (;;) {
    const rows = await outboxPage(db, undefined, after);
    const byTenant = new Map<string, OutboxRow[]>();
    for (const row of rows) {
      if (skipped.has(row.tenantId)) continue;
      byTenant.set(row.tenantId, [...(byTenant.get(row.tenantId) ?? []), row]);
    }
    for (const [tenant, theirs] of byTenant) {
      let done = false;
      try {
        done = await onTenantShard(env, db, tenant, (store) => appendOutbox(db, store, tenant, theirs));
      } catch (error) {
        console.warn(
          JSON.stringify({
            level: "warn",
            msg: "relay could not carry a tenant's outbox",
            tenant_id: tenant,
            error: errorText(error),
          }),
        );
      }
      if (done) carried += theirs.length;
      else skipped.add(tenant);
    }
    if (rows.length < OUTBOX_PAGE) return carried;
    after = (rows.at(-1) as OutboxRow).id;
  }
}

/** Batches of events within a queue batch's limits. */
export function queueBatches(events: FeedEvent[]): FeedEvent[][] {
  const batches: FeedEvent[][] = [];
  let current: FeedEvent[] = [];
  let bytes = 0;
  const encoder = new TextEncoder();
  for (const event of events) {
    // Bytes, not UTF-16 units: a document in CJK text is three bytes a character.
    const size = encoder.encode(JSON.stringify(event)).byteLength + MESSAGE_OVERHEAD_BYTES;
    if (current.length === QUEUE_BATCH_MESSAGES || (current.length > 0 && bytes + size > QUEUE_BATCH_BYTES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(event);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * Publishes the tenant's unpublished events in seq order and marks each batch published once the
 * queue has it. A failure between the two sends that batch again next time: at least once.
 */
export async function publishFeed(store: ShardStore, tenantId: string, publish: Publish): Promise<number> {
  const rows = await store.feed.unpublished(tenantId, PUBLISH_PAGE);
  let published = 0;
  for (const batch of queueBatches(rows.map(feedEvent))) {
    await publish(batch);
    await store.feed.markPublished(
      tenantId,
      batch.map((event) => event.seq),
      Date.now(),
    );
    published += batch.length;
  }
  return published;
}

/**
 * Everything the relay owes one tenant, in one admitted write on its shard: its outbox rows, its
 * unpublished events, its unlinked audit records.
 */
export async function relayTenant(env: Env, db: ControlDb, tenantId: string, publish = queuePublish(env)) {
  await onTenantShard(env, db, tenantId, async (store) => {
    for (let after = 0; ; ) {
      const rows = await outboxPage(db, tenantId, after);
      if (rows.length > 0) await appendOutbox(db, store, tenantId, rows);
      if (rows.length < OUTBOX_PAGE) break;
      after = (rows.at(-1) as OutboxRow).id;
    }
    await publishFeed(store, tenantId, publish);
    await chainTrail(store.trail, tenantId, checkpointKey(env));
  });
}

/** Tenants per shard taken per sweep; the rest wait for the next minute. */
const SWEEP_TENANTS = 200;

/**
 * The minute's sweep: the whole outbox, then each shard's tenants with events to publish or
 * records to link (a draining shard still holds tenants), then the platform's trail.
 */
export async function sweepRelay(db: ControlDb, env: Env, publish = queuePublish(env)): Promise<void> {
  await relayOutbox(env, db);
  for (const shard of await db.select().from(shards)) {
    const tenants = await eachShardJob(env, shard, "relay could not read a shard", async (store) => [
      ...new Set([
        ...(await store.feed.tenantsUnpublished(SWEEP_TENANTS)),
        ...(await store.trail.tenantsUnchained(SWEEP_TENANTS)),
      ]),
    ]);
    if (tenants === undefined) continue;
    for (const tenantId of tenants) {
      try {
        await relayTenant(env, db, tenantId, publish);
      } catch (error) {
        console.warn(
          JSON.stringify({
            level: "warn",
            msg: "relay failed for a tenant",
            tenant_id: tenantId,
            error: errorText(error),
          }),
        );
      }
    }
  }
  await chainTrail(platformTrail(db), null, checkpointKey(env));
}
