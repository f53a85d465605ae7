import { and, eq, lt, sql } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { newestFirst, type PageRequest } from "../db/keyset";
import { newId } from "../http/ids";
import { AppError, notFound } from "../http/problems";
import { byName, KINDS } from "../jobs/registry";
import { USAGE_TYPE_PREFIX } from "../usage/record";
import { type DeadLetter, type DeadLetterSource, deadLetters } from "./table";

const str = (value: unknown) => (typeof value === "string" ? value.slice(0, 200) : null);

/**
 * Which queue a body came from, by its shape: a lifecycle message has a `kind`, an event a
 * `tenant_id` and a `seq`, a usage record is a CloudEvent of a usage type, a webhook attempt
 * names its `message_id`.
 */
export function sourceOf(body: unknown): { source: DeadLetterSource; kind: string | null; tenantId: string | null } {
  const fields = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
  if (typeof fields.tenant_id === "string" && typeof fields.seq === "number" && fields.kind === undefined) {
    return { source: "events", kind: null, tenantId: str(fields.tenant_id) };
  }
  if (typeof fields.message_id === "string" && typeof fields.attempt === "number") {
    return { source: "webhooks", kind: null, tenantId: str(fields.tenant_id) };
  }
  if (
    fields.specversion !== undefined &&
    typeof fields.type === "string" &&
    fields.type.startsWith(USAGE_TYPE_PREFIX)
  ) {
    return { source: "usage", kind: null, tenantId: str(fields.subject) };
  }
  return { source: "lifecycle", kind: str(fields.kind), tenantId: str(fields.tenantId) };
}

/** Stores a message of the dead-letter queue, once per message id. */
export async function storeDeadLetter(db: ControlDb, messageId: string, body: unknown, now = Date.now()) {
  await db
    .insert(deadLetters)
    .values({ id: newId("dlq"), messageId, ...sourceOf(body), body, receivedAt: now })
    .onConflictDoNothing({ target: deadLetters.messageId });
}

export type DeadLetterFilter = { source?: DeadLetterSource; kind?: string; tenantId?: string };

export async function listDeadLetters(db: ControlDb, filter: DeadLetterFilter, page: PageRequest) {
  const keyset = newestFirst(deadLetters.id, page);
  const rows = await db
    .select()
    .from(deadLetters)
    .where(
      and(
        filter.source ? eq(deadLetters.source, filter.source) : undefined,
        filter.kind ? eq(deadLetters.kind, filter.kind) : undefined,
        filter.tenantId ? eq(deadLetters.tenantId, filter.tenantId) : undefined,
        keyset.after,
      ),
    )
    .orderBy(keyset.order)
    .limit(keyset.limit);
  return keyset.page(rows);
}

export async function getDeadLetter(db: ControlDb, id: string): Promise<DeadLetter> {
  const row = await db.query.deadLetters.findFirst({ where: eq(deadLetters.id, id) });
  if (!row) throw notFound("Dead letter");
  return row;
}

const KINDS_BY_NAME = byName(KINDS);

/**
 * Sends the message back to the queue it came from, as it was, and counts the replay. A lifecycle
 * message no job can read (an unknown kind, a body its kind's schema refuses) is refused with 422:
 * it would only come back. Jobs are idempotent, so replaying one that meanwhile succeeded is harmless.
 */
export async function replayDeadLetter(db: ControlDb, env: Env, id: string, now = Date.now()): Promise<DeadLetter> {
  const letter = await getDeadLetter(db, id);
  if (letter.source === "lifecycle") {
    const kind = letter.kind === null ? undefined : KINDS_BY_NAME.get(letter.kind);
    const { kind: _, ...body } = (letter.body ?? {}) as Record<string, unknown>;
    if (!kind?.body.safeParse(body).success) {
      throw new AppError(
        "unprocessable-entity",
        "No job can run this message: its kind is unknown or its body invalid",
      );
    }
    await env.LIFECYCLE_QUEUE.send(letter.body);
  } else if (letter.source === "webhooks") {
    await env.WEBHOOKS_QUEUE.send(letter.body, { contentType: "json" });
  } else if (letter.source === "usage") {
    await env.USAGE_QUEUE.send(letter.body, { contentType: "json" });
  } else {
    await env.EVENTS_QUEUE.send(letter.body, { contentType: "json" });
  }
  const [replayed] = await db
    .update(deadLetters)
    .set({ replays: sql`${deadLetters.replays} + 1`, replayedAt: now })
    .where(eq(deadLetters.id, id))
    .returning();
  return replayed as DeadLetter;
}

/** Dead letters kept at most this long (the daily retention drops older ones). */
export const DEAD_LETTER_RETENTION_MS = 30 * 86_400_000;

export async function dropOldDeadLetters(db: ControlDb, now = Date.now()): Promise<number> {
  const result = await db
    .delete(deadLetters)
    .where(lt(deadLetters.receivedAt, now - DEAD_LETTER_RETENTION_MS))
    .run();
  return result.meta.changes;
}
