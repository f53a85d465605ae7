import { and, eq } from "drizzle-orm";
import { z } from "zod";
import { type ControlDb, controlDb } from "../db/client";
import { errorText } from "../db/errors";
import { purging } from "../lifecycle/state";
import { publishToStream } from "../stream/publish";
import { fanOut, type PublishedEvent } from "../webhooks/fanout";
import { type EventCursor, eventCursors } from "./cursor-table";
import type { FeedEvent } from "./event";

// The events queue's consumer in this Worker: it proves the feed end to end by keeping, per
// tenant, how far delivery has got. Deliveries come at least once and in any order; the cursor
// deduplicates by event (a tenant's events are numbered by seq) and restores their order: every
// event up to `through_seq` has arrived.

/** What the consumer reads of a message; the rest is the event as published. */
const Delivered = z.object({
  id: z.string(),
  tenant_id: z.string(),
  seq: z.number().int().positive(),
  type: z.string(),
});

/** Seqs held ahead of a gap at most; past that the gap is given up for lost. */
export const MAX_AHEAD = 10_000;
const MAX_ATTEMPTS = 8;

/** The cursor after `seqs` arrive: what is new, what repeats, and how far the run without gaps now goes. */
export function advance(
  cursor: Pick<EventCursor, "throughSeq" | "ahead">,
  seqs: readonly number[],
): { throughSeq: number; ahead: number[]; fresh: number; duplicates: number; skipped: [number, number] | null } {
  const ahead = new Set(cursor.ahead);
  let throughSeq = cursor.throughSeq;
  let fresh = 0;
  let duplicates = 0;
  for (const seq of seqs) {
    if (seq <= throughSeq || ahead.has(seq)) duplicates++;
    else {
      ahead.add(seq);
      fresh++;
    }
  }
  while (ahead.delete(throughSeq + 1)) throughSeq++;
  // A gap this far behind is an event that will not come (dead-lettered after its retries): the
  // cursor goes past it, which the caller logs, rather than holding every later event forever.
  let skipped: [number, number] | null = null;
  if (ahead.size > MAX_AHEAD) {
    const first = Math.min(...ahead);
    skipped = [throughSeq + 1, first - 1];
    throughSeq = first - 1;
    while (ahead.delete(throughSeq + 1)) throughSeq++;
  }
  return { throughSeq, ahead: [...ahead].sort((a, b) => a - b), fresh, duplicates, skipped };
}

/**
 * Applies the deliveries to the tenant's cursor: a conditional write on the version read, retried
 * when another batch of the same tenant's moved it first.
 */
export async function recordDeliveries(db: ControlDb, tenantId: string, seqs: readonly number[], now = Date.now()) {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = await db.query.eventCursors.findFirst({ where: eq(eventCursors.tenantId, tenantId) });
    const next = advance(current ?? { throughSeq: 0, ahead: [] }, seqs);
    const state = {
      throughSeq: next.throughSeq,
      ahead: next.ahead,
      delivered: (current?.delivered ?? 0) + next.fresh,
      duplicates: (current?.duplicates ?? 0) + next.duplicates,
      version: (current?.version ?? 0) + 1,
      updatedAt: now,
    };
    // A tenant purged (or being purged) gets no cursor again: a late delivery is dropped.
    if (!current && (await purging(db, tenantId))) return;
    const written = current
      ? await db
          .update(eventCursors)
          .set(state)
          .where(and(eq(eventCursors.tenantId, tenantId), eq(eventCursors.version, current.version)))
          .returning({ tenantId: eventCursors.tenantId })
      : await db
          .insert(eventCursors)
          .values({ tenantId, ...state })
          .onConflictDoNothing()
          .returning({ tenantId: eventCursors.tenantId });
    if (written.length > 0) {
      if (next.skipped) {
        console.error(
          JSON.stringify({
            level: "error",
            msg: "events never delivered; the cursor went past them",
            tenant_id: tenantId,
            seqs: next.skipped,
          }),
        );
      }
      return;
    }
  }
  throw new Error(`the event cursor of ${tenantId} kept changing under its writes`);
}

/**
 * The events queue's handler: each tenant's deliveries in one cursor write, then one webhook
 * message per subscribed endpoint (src/webhooks/fanout.ts), acknowledged once both are written
 * (the tenant's stream hub gets them too, best effort: src/stream/publish.ts)
 * and retried (redelivered) when either fails; both are idempotent. A message that is not an
 * event is logged and acknowledged: a retry would not change it.
 */
export async function consumeEvents(batch: MessageBatch, env: Env): Promise<void> {
  const db = controlDb(env);
  const byTenant = new Map<string, { messages: Message[]; events: (PublishedEvent & { seq: number })[] }>();
  for (const message of batch.messages) {
    const parsed = Delivered.safeParse(message.body);
    if (!parsed.success) {
      console.warn(JSON.stringify({ level: "warn", msg: "events queue message is not an event", id: message.id }));
      message.ack();
      continue;
    }
    const group = byTenant.get(parsed.data.tenant_id) ?? { messages: [], events: [] };
    group.messages.push(message);
    group.events.push({ ...parsed.data, body: message.body });
    byTenant.set(parsed.data.tenant_id, group);
  }
  await Promise.all(
    [...byTenant].map(async ([tenantId, { messages, events }]) => {
      try {
        await recordDeliveries(
          db,
          tenantId,
          events.map((event) => event.seq),
        );
        await fanOut(env, db, tenantId, events);
        await publishToStream(
          env,
          tenantId,
          events.map((event) => event.body as FeedEvent),
        );
        for (const message of messages) message.ack();
      } catch (error) {
        console.error(
          JSON.stringify({
            level: "error",
            msg: "event cursor or webhook messages not written",
            tenant_id: tenantId,
            error: errorText(error),
          }),
        );
        for (const message of messages) message.retry();
      }
    }),
  );
}
