import { eq, type SQL, sql } from "drizzle-orm";
import type { Actor } from "../auth/actor";
import type { JsonValue } from "../datasets/canonical";
import type { EventRow } from "./table";

/** Every type of event the feed carries; `<subject>.<verb in the past>`. */
export const EVENT_TYPES = [
  "entry.created",
  "entry.replaced",
  "entry.deleted",
  "tenant.created",
  "tenant.updated",
  "tenant.provisioned",
  "tenant.deleted",
  "tenant.restored",
  "user.created",
  "user.updated",
  "user.deleted",
  "key.created",
  "key.revoked",
  "export.completed",
  "export.failed",
  "backup.completed",
  "backup.failed",
  "tenant.archived",
  "tenant.rehydrated",
  "restore.completed",
  "restore.failed",
  "quota.exceeded",
  "flag.overridden",
  "flag.override_removed",
  "flag.rolled_back",
  "webhook.endpoint_disabled",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * An event as the events queue and `GET /v1/tenants/:id/events` carry it. `data` is the subject's
 * row after the change in its dataset's export form (columns by SQL name, secrets left out), or
 * `{id}` of what was removed.
 */
export type FeedEvent = {
  id: string;
  tenant_id: string;
  seq: number;
  type: EventType;
  subject: { type: string; id: string };
  data: JsonValue;
  occurred_at: string;
  request_id: string | null;
  actor: Actor;
};

/**
 * The id of the tenant's `seq`th event: the tenant's id, then `seq` zero-padded, so ids are unique
 * across tenants and a tenant's ids sort in its feed's order as plain strings.
 */
export const eventId = (tenantId: string, seq: number) =>
  `evt_${tenantId.replace(/^ten_/, "")}_${String(seq).padStart(12, "0")}`;

/** The seq of `id` when it is an event id of the tenant's (as `eventId` writes them), else null. */
export function seqOfEventId(tenantId: string, id: string): number | null {
  const match = /_([0-9]{12})$/.exec(id);
  return match && id === eventId(tenantId, Number(match[1])) ? Number(match[1]) : null;
}

/** The public form of a feed row. */
export const feedEvent = (row: EventRow): FeedEvent => ({
  id: eventId(row.tenantId, row.seq),
  tenant_id: row.tenantId,
  seq: row.seq,
  type: row.type as EventType,
  subject: { type: row.subjectType, id: row.subjectId },
  data: row.data,
  occurred_at: new Date(row.occurredAt).toISOString(),
  request_id: row.requestId,
  actor: row.actor,
});

/**
 * The tenant's next seq, evaluated inside the statement that inserts the row: writers of one
 * tenant are serialised there (D1 runs one statement at a time; PostgreSQL writers hold the tenant's
 * usage row first), so seqs follow commit order without gaps. The newest event is never dropped
 * (src/events/retention.ts), so a seq is never reused.
 */
export const nextEventSeq = (events: any, tenantId: string): SQL =>
  sql`(select coalesce(max(${events.seq}), 0) + 1 from ${events} where ${eq(events.tenantId, tenantId)})`;

/** What a change announces, before the feed gives it a seq. */
export type NewEvent = {
  type: EventType;
  subject: { type: string; id: string };
  data: JsonValue;
};

/** Who made a change, and for which request. */
export type ChangeOrigin = { requestId: string | null; actor: Actor };

/** The feed row of a new event, its seq taken in the inserting statement. */
export const eventRow = (events: any, tenantId: string, event: NewEvent, origin: ChangeOrigin, now: number) => ({
  tenantId,
  seq: nextEventSeq(events, tenantId),
  type: event.type,
  subjectType: event.subject.type,
  subjectId: event.subject.id,
  data: event.data,
  occurredAt: now,
  requestId: origin.requestId,
  actor: origin.actor,
  origin: null,
  publishedAt: null,
});
